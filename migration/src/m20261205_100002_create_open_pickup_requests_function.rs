//! On PostgreSQL, `open_pickup_requests_locked(phone)`: takes a transaction-scoped advisory lock on the
//! phone, then counts its open pickup requests. The count is a statement of its own inside a volatile
//! function, so it reads what was committed up to the moment the lock was granted; the lock is held
//! until the calling transaction (or single statement) ends. Two requests for one phone are therefore
//! counted one after the other, and the limit holds under concurrency even where a new dossier is
//! written by one statement without `BEGIN`. SQLite has one writer, which counts in its transaction;
//! nothing to do there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const CREATE: &str = r#"
CREATE FUNCTION open_pickup_requests_locked(p_phone text) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('open_pickup_requests:' || p_phone, 0));
    RETURN (
        SELECT count(*) FROM dossiers
        WHERE applicant_phone = p_phone
          AND status IN ('pickup_requested', 'pickup_scheduled', 'pickup_failed')
    );
END
$$
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        manager.get_connection().execute_unprepared(CREATE).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared("DROP FUNCTION IF EXISTS open_pickup_requests_locked(text)")
            .await?;
        Ok(())
    }
}
