//! The dossier request form, shared by the citizens' page (`/`, a pickup request) and the agency's
//! desk (`/agency/return`, a dossier filed in person whose result the post brings home). The form is
//! drawn from the procedure's published document list; what is posted becomes a `DossierRequest`
//! for `domain::ops::dossiers::create_dossier`, which alone decides what is valid. Its field errors
//! come back next to the inputs of the same name.

use domain::ops::FieldError;
use domain::ops::dossiers::{AddressRequest, ApplicantRequest, DocumentRequest, DossierRequest};
use domain::ops::reference::ProcedureWithDocuments;
use entity::enums::{FeeExemption, ServiceMode};

use super::form::{Choice, Errors, Field, Kind, Posted, id_of};
use super::i18n::Lang;
use super::view::province_name;

/// A choice among radio buttons.
#[derive(Debug, Clone)]
pub struct Radio {
    pub id: String,
    pub value: String,
    pub label: String,
    pub checked: bool,
}

/// One document of the procedure's list: whether the original is handed over, and how many copies.
#[derive(Debug, Clone)]
pub struct DocRow {
    pub name: String,
    pub original_name: String,
    pub original_id: String,
    pub original_checked: bool,
    pub original_required: bool,
    pub copies: Field,
    pub error: Option<String>,
    pub error_id: String,
}

/// An entry of the error summary at the top of the form, linking to its input.
#[derive(Debug, Clone)]
pub struct SummaryItem {
    pub href: String,
    pub text: String,
}

/// The form, ready to draw.
#[derive(Debug, Clone)]
pub struct RequestForm {
    /// Where it posts.
    pub action: &'static str,
    pub agency_code: String,
    pub procedure_code: String,
    /// The idempotency key of this form: posting it twice registers one dossier.
    pub form_id: String,
    /// The agency's desk form: mode `return`, no pickup address.
    pub return_only: bool,
    pub modes: Vec<Radio>,
    pub mode_error: Option<String>,
    pub applicant: Vec<Field>,
    pub applicant_error: Option<String>,
    pub pickup: Vec<Field>,
    pub pickup_error: Option<String>,
    pub return_to: Vec<Field>,
    pub return_error: Option<String>,
    pub documents: Vec<DocRow>,
    pub documents_error: Option<String>,
    pub with_appointment: bool,
    pub exemption: Field,
    pub summary: Vec<SummaryItem>,
}

/// The values a fresh form starts with: both legs, the originals the procedure requires ticked, one
/// copy of every other document.
pub fn defaults(procedure: &ProcedureWithDocuments, return_only: bool) -> Posted {
    let mut posted = Posted::default();
    posted.set(
        "service_mode",
        if return_only {
            ServiceMode::Return.as_str()
        } else {
            ServiceMode::SendAndReturn.as_str()
        },
    );
    for (i, doc) in procedure.documents.iter().enumerate() {
        if doc.original_required {
            posted.set(&format!("documents[{i}].original"), "on");
            posted.set(&format!("documents[{i}].copies"), "0");
        } else {
            posted.set(&format!("documents[{i}].copies"), "1");
        }
    }
    posted.set("fee_exemption", FeeExemption::None.as_str());
    posted
}

/// The request the posted form makes, and for each document of the request the position of its row
/// in the form (rows with neither the original nor a copy are left out).
pub fn to_request(
    posted: &Posted,
    procedure: &ProcedureWithDocuments,
    lang: Lang,
    return_only: bool,
) -> (DossierRequest, Vec<usize>) {
    let address = |prefix: &str| AddressRequest {
        line: posted.text(&format!("{prefix}.line")),
        ward_code: posted.text(&format!("{prefix}.ward_code")),
        province_code: posted.text(&format!("{prefix}.province_code")),
    };
    let return_given = ["line", "ward_code"]
        .iter()
        .any(|f| posted.text(&format!("return_address.{f}")).is_some());
    let mut documents = Vec::new();
    let mut rows = Vec::new();
    for (i, doc) in procedure.documents.iter().enumerate() {
        let original = posted.checked(&format!("documents[{i}].original"));
        // A count that is not a whole number is passed on as -1, so the domain's own rule on copies
        // names the field.
        let copies = match posted.raw(&format!("documents[{i}].copies")).trim() {
            "" => 0,
            text => text.parse::<i64>().unwrap_or(-1),
        };
        if original || copies != 0 {
            documents.push(DocumentRequest {
                name: Some(doc.name.clone()),
                original: Some(original),
                copies: Some(copies),
                code: Some(doc.code.clone()),
            });
            rows.push(i);
        }
    }
    let request = DossierRequest {
        procedure_code: posted.text("procedure_code"),
        agency_code: posted.text("agency_code"),
        service_mode: if return_only {
            Some(ServiceMode::Return.as_str().to_owned())
        } else {
            posted.text("service_mode")
        },
        applicant: Some(ApplicantRequest {
            full_name: posted.text("applicant.full_name"),
            phone: posted.text("applicant.phone"),
            email: posted.text("applicant.email"),
            id_number: posted.text("applicant.id_number"),
        }),
        pickup_address: (!return_only).then(|| address("pickup_address")),
        return_address: (return_only || return_given).then(|| address("return_address")),
        documents: Some(documents),
        with_appointment: Some(posted.checked("with_appointment")),
        fee_exemption: posted.text("fee_exemption"),
        language: Some(lang.code().to_owned()),
    };
    (request, rows)
}

/// The domain's errors with each `documents[k]` renamed to the form row it came from.
pub fn errors_on_rows(errors: Vec<FieldError>, rows: &[usize]) -> Vec<FieldError> {
    errors
        .into_iter()
        .map(|mut e| {
            if let Some(rest) = e.field.strip_prefix("documents[")
                && let Some((k, tail)) = rest.split_once(']')
                && let Ok(k) = k.parse::<usize>()
                && let Some(row) = rows.get(k)
            {
                e.field = format!("documents[{row}]{tail}");
            }
            e
        })
        .collect()
}

/// Everything needed to draw the form.
pub struct FormInputs<'a> {
    pub lang: Lang,
    pub action: &'static str,
    pub agency_code: &'a str,
    pub procedure: &'a ProcedureWithDocuments,
    /// Province codes that a post office serves.
    pub provinces: &'a [String],
    pub posted: &'a Posted,
    pub errors: &'a [FieldError],
    pub return_only: bool,
}

/// The form with the posted values and the errors beside their inputs.
pub fn build(input: FormInputs<'_>) -> RequestForm {
    let FormInputs {
        lang,
        action,
        agency_code,
        procedure,
        provinces,
        posted,
        errors: field_errors,
        return_only,
    } = input;
    let errors = Errors::of(lang, field_errors);
    let l = |vi, en| lang.t(vi, en);
    let mode_value = posted.raw("service_mode").to_owned();
    let modes = [ServiceMode::SendAndReturn, ServiceMode::Send]
        .into_iter()
        .map(|m| Radio {
            id: format!("f-service_mode-{}", m.as_str()),
            value: m.as_str().to_owned(),
            label: lang.mode(m).to_owned(),
            checked: mode_value == m.as_str(),
        })
        .collect();
    let applicant = vec![
        Field::new(
            "applicant.full_name",
            l("Họ và tên", "Full name"),
            Kind::Text,
            posted,
            &errors,
        )
        .autocomplete("name"),
        Field::new(
            "applicant.phone",
            l("Số điện thoại", "Phone number"),
            Kind::Tel,
            posted,
            &errors,
        )
        .autocomplete("tel")
        .hint(l(
            "Ví dụ 0912345678 hoặc +84912345678",
            "e.g. 0912345678 or +84912345678",
        )),
        Field::new(
            "applicant.email",
            l("Thư điện tử (không bắt buộc)", "Email (optional)"),
            Kind::Email,
            posted,
            &errors,
        )
        .autocomplete("email")
        .hint(l(
            "Để nhận thông báo về hồ sơ",
            "To be told how the dossier is doing",
        )),
        Field::new(
            "applicant.id_number",
            l("Số CCCD hoặc CMND", "Citizen ID (CCCD or CMND)"),
            Kind::Text,
            posted,
            &errors,
        )
        .inputmode("numeric")
        .hint(l(
            "12 chữ số (CCCD) hoặc 9 chữ số (CMND)",
            "12 digits (CCCD) or 9 digits (CMND)",
        )),
    ];
    let address = |prefix: &str, line_label: &str| -> Vec<Field> {
        let current = posted.raw(&format!("{prefix}.province_code")).to_owned();
        let mut options = vec![Choice {
            value: String::new(),
            label: l("— Chọn tỉnh/thành —", "— Choose a province —").to_owned(),
            selected: current.is_empty(),
        }];
        options.extend(Choice::list(
            provinces.iter().map(|p| (p.as_str(), province_name(p))),
            &current,
        ));
        vec![
            Field::new(
                &format!("{prefix}.line"),
                line_label,
                Kind::Text,
                posted,
                &errors,
            )
            .autocomplete("street-address")
            .hint(l("Số nhà, đường, thôn/tổ", "House number and street")),
            Field::new(
                &format!("{prefix}.ward_code"),
                l("Mã phường/xã", "Ward code"),
                Kind::Text,
                posted,
                &errors,
            )
            .inputmode("numeric")
            .hint(l("5 chữ số, ví dụ 00070", "5 digits, e.g. 00070")),
            Field::new(
                &format!("{prefix}.province_code"),
                l("Tỉnh/thành phố", "Province"),
                Kind::Select,
                posted,
                &errors,
            )
            .options(options),
        ]
    };
    let pickup = if return_only {
        Vec::new()
    } else {
        address("pickup_address", l("Địa chỉ nhận hồ sơ", "Pickup address"))
    };
    let return_to = address(
        "return_address",
        l("Địa chỉ nhận kết quả", "Address for the result"),
    );
    let documents = procedure
        .documents
        .iter()
        .enumerate()
        .map(|(i, doc)| {
            let original_name = format!("documents[{i}].original");
            DocRow {
                name: doc.name.clone(),
                original_id: id_of(&original_name),
                original_checked: posted.checked(&original_name),
                original_name,
                original_required: doc.original_required,
                copies: Field::new(
                    &format!("documents[{i}].copies"),
                    l("Số bản sao", "Copies"),
                    Kind::Number,
                    posted,
                    &errors,
                )
                .inputmode("numeric"),
                error: errors.get(&format!("documents[{i}]")),
                error_id: format!("f-documents-{i}-error"),
            }
        })
        .collect();
    let current_exemption = posted.raw("fee_exemption").to_owned();
    let exemption = Field::new(
        "fee_exemption",
        l("Đối tượng miễn, giảm cước", "Postage exemption"),
        Kind::Select,
        posted,
        &errors,
    )
    .options(Choice::list(
        FeeExemption::ALL
            .iter()
            .map(|e| (e.as_str(), lang.exemption(*e).to_owned())),
        &current_exemption,
    ));
    let summary = field_errors
        .iter()
        .map(|e| SummaryItem {
            href: format!("#{}", anchor_of(&e.field, return_only)),
            text: format!("{}: {}", lang.field(&e.field), lang.field_message(e)),
        })
        .collect();
    RequestForm {
        action,
        agency_code: agency_code.to_owned(),
        procedure_code: procedure.procedure.code.clone(),
        form_id: match posted.text("form_id") {
            Some(id) if is_form_id(&id) => id,
            _ => super::session::nonce(),
        },
        return_only,
        modes,
        mode_error: errors.get("service_mode"),
        applicant,
        applicant_error: errors.get("applicant"),
        pickup,
        pickup_error: errors.get("pickup_address"),
        return_to,
        return_error: errors.get("return_address"),
        documents,
        documents_error: errors.get("documents"),
        with_appointment: posted.checked("with_appointment"),
        exemption,
        summary,
    }
}

/// Where an error's link in the summary goes: the input, or the group that holds it.
fn anchor_of(field: &str, return_only: bool) -> String {
    match field {
        "applicant" => "group-applicant".to_owned(),
        "pickup_address" => "group-pickup".to_owned(),
        "return_address" => "group-return".to_owned(),
        "documents" => "group-documents".to_owned(),
        "service_mode" if return_only => "request-form".to_owned(),
        "service_mode" => "f-service_mode-send_and_return".to_owned(),
        "procedure_code" | "agency_code" | "language" => "request-form".to_owned(),
        f if f.starts_with("documents[") && !f.contains("].") => {
            format!("{}-error", id_of(f))
        }
        f => id_of(f),
    }
}

/// Whether a posted form id can serve as an idempotency key.
pub fn is_form_id(id: &str) -> bool {
    (8..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The idempotency claim of a posted request form: its `form_id` (when well formed) with the request
/// as sent, so that a form sent twice registers one dossier.
pub fn claim_of(
    posted: &Posted,
    request: &DossierRequest,
    caller: &str,
) -> Option<domain::ops::idempotency::IdempotencyClaim> {
    let id = posted.text("form_id").filter(|id| is_form_id(id))?;
    let canonical = serde_json::to_vec(request).ok()?;
    Some(domain::ops::idempotency::IdempotencyClaim::new(
        "create_dossier",
        caller,
        &id,
        &canonical,
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn document_errors_are_moved_to_the_rows_they_came_from() {
        let errors = vec![
            FieldError::new("documents[0].copies", "must be between 0 and 20"),
            FieldError::new("documents[1]", "must be an original or at least one copy"),
            FieldError::new("applicant.phone", "is required"),
        ];
        let moved = errors_on_rows(errors, &[2, 4]);
        let fields: Vec<&str> = moved.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["documents[2].copies", "documents[4]", "applicant.phone"]
        );
    }

    #[test]
    fn form_ids_are_short_and_plain() {
        assert!(is_form_id("AbC-123_xyz"));
        assert!(!is_form_id("short"));
        assert!(!is_form_id("has space in it"));
    }
}
