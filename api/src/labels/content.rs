//! What a parcel's label shows: who sends it to whom, at which address, for which procedure. The
//! label route and the staff's label pages both print it; it sits below both.

use domain::ops::labels::LabelRecord;
use entity::enums::LegDirection;
use entity::{agency, dossier};

use super::{LabelData, Party};

/// What the label shows for `record`: inbound, the applicant (at the pickup address) sends to the
/// agency; outbound, the agency sends to the applicant at the return address.
pub(crate) fn label_data(record: LabelRecord, qr_url: String) -> LabelData {
    let LabelRecord {
        leg,
        item_code,
        dossier,
        agency,
        procedure,
    } = record;
    let pickup = address_lines(
        dossier.pickup_line.as_deref(),
        dossier.pickup_ward_code.as_deref(),
        dossier.pickup_province_code.as_deref(),
    );
    let return_to = address_lines(
        dossier.return_line.as_deref(),
        dossier.return_ward_code.as_deref(),
        dossier.return_province_code.as_deref(),
    );
    let (sender, receiver) = match leg.direction {
        LegDirection::Inbound => (
            applicant(&dossier, if pickup.is_empty() { return_to } else { pickup }),
            agency_party(&agency),
        ),
        LegDirection::Outbound => (
            agency_party(&agency),
            applicant(
                &dossier,
                if return_to.is_empty() {
                    pickup
                } else {
                    return_to
                },
            ),
        ),
    };
    LabelData {
        qr_url,
        item_code,
        dossier_code: dossier.code,
        direction: leg.direction,
        procedure_code: procedure.code,
        procedure_name: procedure.name,
        agency_name: agency.name,
        sender,
        receiver,
    }
}

fn applicant(dossier: &dossier::Model, address_lines: Vec<String>) -> Party {
    Party {
        name: dossier.applicant_full_name.clone(),
        address_lines,
        phone: Some(dossier.applicant_phone.clone()),
    }
}

fn agency_party(agency: &agency::Model) -> Party {
    Party {
        name: agency.name.clone(),
        address_lines: vec![agency.address.clone()],
        phone: None,
    }
}

/// An applicant's address: the street line, then the ward and province by their official names (the
/// service stores the codes; a code the map does not know prints as it is).
pub(crate) fn address_lines(
    line: Option<&str>,
    ward: Option<&str>,
    province: Option<&str>,
) -> Vec<String> {
    use domain::divisions::{province_name, ward_name};
    let mut lines = Vec::with_capacity(2);
    if let Some(line) = line {
        lines.push(line.to_owned());
    }
    let ward = ward.map(|w| ward_name(w).unwrap_or(w));
    let province = province.map(|p| province_name(p).unwrap_or(p));
    match (ward, province) {
        (Some(ward), Some(province)) => lines.push(format!("{ward}, {province}")),
        (None, Some(one)) | (Some(one), None) => lines.push(one.to_owned()),
        (None, None) => {}
    }
    lines
}
