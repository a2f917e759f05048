//! sea-orm entities of the dossier store: one module per table, and the DB-mapped enums. No logic here;
//! the rules and the queries live in `domain`.

pub mod agency;
pub mod agency_procedure;
pub mod api_key;
pub mod carrier_cursor;
pub mod carrier_event;
pub mod delivery_attempt;
pub mod dossier;
pub mod dossier_event;
pub mod enums;
pub mod handover_item;
pub mod handover_record;
pub mod holiday;
pub mod idempotency_record;
pub mod item_code_range;
pub mod leg;
pub mod major_city;
pub mod outbox;
pub mod pickup_appointment;
pub mod pickup_slip;
pub mod post_office;
pub mod procedure;
pub mod procedure_document;
pub mod scan;
pub mod service_key;
pub mod tariff;
pub mod webhook;
