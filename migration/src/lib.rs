//! The dossier schema as sea-orm migrations: one change per file, each with a real `down`, portable
//! between SQLite (the embedded default) and PostgreSQL (production).

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_create_agencies;
mod m20261123_000002_create_procedures;
mod m20261123_000003_create_procedure_documents;
mod m20261123_000004_create_agency_procedures;
mod m20261123_000005_create_post_offices;
mod m20261123_000006_create_item_code_ranges;
mod m20261123_000007_create_tariffs;
mod m20261123_000008_create_holidays;
mod m20261123_000009_create_major_cities;
mod m20261123_000010_create_dossiers;
mod m20261123_000011_create_legs;
mod m20261123_000012_create_dossier_events;
mod m20261123_000013_create_api_keys;
mod m20261123_000014_create_idempotency_records;
mod m20261123_000015_create_outbox;
mod m20261123_000100_create_service_keys;
mod m20261123_000200_create_handover_records;
mod m20261123_000201_create_handover_items;
mod m20261123_000202_create_scans;
mod m20261123_000203_create_pickup_slips;
mod m20261123_000204_create_pickup_appointments;
mod m20261123_000205_create_delivery_attempts;
mod m20261123_000300_create_webhooks;
mod m20261123_000400_create_carrier_events;
mod m20261123_000401_create_carrier_orders;
mod m20261123_000500_create_admin_audit;
mod m20261123_000600_add_txid_to_dossier_events;
mod m20261123_000700_add_legs_overdue_raised_at;
mod m20261123_000701_add_dossiers_result_overdue_raised_at;
mod m20261123_000702_create_legs_overdue_pending_index;
mod m20261123_000703_create_dossiers_result_overdue_pending_index;
mod m20261123_000704_create_dossiers_agency_id_index;
mod m20261123_000705_create_legs_status_due_index;
mod m20261123_000800_add_legs_started_at;
mod m20261123_000801_create_dossiers_report_created_index;
mod m20261123_000900_drop_carrier_events_dossier_links;
mod m20261205_100001_create_dossiers_open_by_phone_index;
mod m20261205_100002_create_open_pickup_requests_function;
mod m20261205_200001_add_api_keys_expiry;
mod m20261205_200002_create_staff_sessions;
mod m20261205_200003_add_admin_audit_client_ip;
mod m20261205_200004_create_append_only_triggers;
mod m20261205_300001_add_legs_purpose;
mod m20261205_300002_create_supplements;
mod m20261205_300003_narrow_legs_dossier_direction_index;
mod m20261205_300004_add_procedure_documents_code_required;
mod m20261205_300005_create_working_days;
mod m20261205_400001_add_legs_identity_confirmed;
mod m20261205_400002_add_delivery_attempts_proof;
mod m20261205_400003_create_incidents;
mod m20261205_400004_create_complaints;
mod m20261205_400005_create_period_reports;
mod m20261206_000001_create_legs_dossier_index;
mod m20261206_100001_add_webhooks_rotation_and_disabling;
mod m20261206_100002_create_webhook_delivery_attempts;
mod m20261206_500001_add_agencies_portal_unit_code;
mod m20261206_500002_create_integration_states;
mod m20261206_500003_create_outbox_dossier_kind_index;
mod m20261207_000001_add_legs_pickup_appointment;
mod m20261207_100001_create_carrier_unreadable_records;
mod m20261207_300001_create_dossiers_phone_created_index;
mod m20261207_300002_create_complaints_dossier_status_index;

/// Every migration, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_agencies::Migration),
            Box::new(m20261123_000002_create_procedures::Migration),
            Box::new(m20261123_000003_create_procedure_documents::Migration),
            Box::new(m20261123_000004_create_agency_procedures::Migration),
            Box::new(m20261123_000005_create_post_offices::Migration),
            Box::new(m20261123_000006_create_item_code_ranges::Migration),
            Box::new(m20261123_000007_create_tariffs::Migration),
            Box::new(m20261123_000008_create_holidays::Migration),
            Box::new(m20261123_000009_create_major_cities::Migration),
            Box::new(m20261123_000010_create_dossiers::Migration),
            Box::new(m20261123_000011_create_legs::Migration),
            Box::new(m20261123_000012_create_dossier_events::Migration),
            Box::new(m20261123_000013_create_api_keys::Migration),
            Box::new(m20261123_000014_create_idempotency_records::Migration),
            Box::new(m20261123_000015_create_outbox::Migration),
            Box::new(m20261123_000100_create_service_keys::Migration),
            Box::new(m20261123_000200_create_handover_records::Migration),
            Box::new(m20261123_000201_create_handover_items::Migration),
            Box::new(m20261123_000202_create_scans::Migration),
            Box::new(m20261123_000203_create_pickup_slips::Migration),
            Box::new(m20261123_000204_create_pickup_appointments::Migration),
            Box::new(m20261123_000205_create_delivery_attempts::Migration),
            Box::new(m20261123_000300_create_webhooks::Migration),
            Box::new(m20261123_000400_create_carrier_events::Migration),
            Box::new(m20261123_000401_create_carrier_orders::Migration),
            Box::new(m20261123_000500_create_admin_audit::Migration),
            Box::new(m20261123_000600_add_txid_to_dossier_events::Migration),
            Box::new(m20261123_000700_add_legs_overdue_raised_at::Migration),
            Box::new(m20261123_000701_add_dossiers_result_overdue_raised_at::Migration),
            Box::new(m20261123_000702_create_legs_overdue_pending_index::Migration),
            Box::new(m20261123_000703_create_dossiers_result_overdue_pending_index::Migration),
            Box::new(m20261123_000704_create_dossiers_agency_id_index::Migration),
            Box::new(m20261123_000705_create_legs_status_due_index::Migration),
            Box::new(m20261123_000800_add_legs_started_at::Migration),
            Box::new(m20261123_000801_create_dossiers_report_created_index::Migration),
            Box::new(m20261123_000900_drop_carrier_events_dossier_links::Migration),
            Box::new(m20261205_100001_create_dossiers_open_by_phone_index::Migration),
            Box::new(m20261205_100002_create_open_pickup_requests_function::Migration),
            Box::new(m20261205_200001_add_api_keys_expiry::Migration),
            Box::new(m20261205_200002_create_staff_sessions::Migration),
            Box::new(m20261205_200003_add_admin_audit_client_ip::Migration),
            Box::new(m20261205_200004_create_append_only_triggers::Migration),
            Box::new(m20261205_400001_add_legs_identity_confirmed::Migration),
            Box::new(m20261205_400002_add_delivery_attempts_proof::Migration),
            Box::new(m20261205_400003_create_incidents::Migration),
            Box::new(m20261205_400004_create_complaints::Migration),
            Box::new(m20261205_400005_create_period_reports::Migration),
            Box::new(m20261205_300001_add_legs_purpose::Migration),
            Box::new(m20261205_300002_create_supplements::Migration),
            Box::new(m20261205_300003_narrow_legs_dossier_direction_index::Migration),
            Box::new(m20261205_300004_add_procedure_documents_code_required::Migration),
            Box::new(m20261205_300005_create_working_days::Migration),
            Box::new(m20261206_000001_create_legs_dossier_index::Migration),
            Box::new(m20261206_100001_add_webhooks_rotation_and_disabling::Migration),
            Box::new(m20261206_100002_create_webhook_delivery_attempts::Migration),
            Box::new(m20261206_500001_add_agencies_portal_unit_code::Migration),
            Box::new(m20261206_500002_create_integration_states::Migration),
            Box::new(m20261206_500003_create_outbox_dossier_kind_index::Migration),
            Box::new(m20261207_000001_add_legs_pickup_appointment::Migration),
            Box::new(m20261207_100001_create_carrier_unreadable_records::Migration),
            Box::new(m20261207_300001_create_dossiers_phone_created_index::Migration),
            Box::new(m20261207_300002_create_complaints_dossier_status_index::Migration),
        ]
    }
}
