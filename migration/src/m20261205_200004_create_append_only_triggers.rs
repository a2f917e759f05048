//! On PostgreSQL the dossier timeline (`dossier_events`) and the audit trail (`admin_audit`) are
//! append-only: a trigger refuses every UPDATE and DELETE, whatever the role (the table's owner
//! included). SQLite, the single-user embedded store, has no roles to guard against and is left as is.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLES: [&str; 2] = ["dossier_events", "admin_audit"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE FUNCTION dossier_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN \
               RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP \
                 USING ERRCODE = 'insufficient_privilege'; \
             END $$",
        )
        .await?;
        for table in TABLES {
            db.execute_unprepared(&format!(
                "CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} \
                 FOR EACH ROW EXECUTE FUNCTION dossier_refuse_change()"
            ))
            .await?;
            db.execute_unprepared(&format!(
                "CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} \
                 FOR EACH STATEMENT EXECUTE FUNCTION dossier_refuse_change()"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for table in TABLES {
            db.execute_unprepared(&format!(
                "DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}"
            ))
            .await?;
            db.execute_unprepared(&format!(
                "DROP TRIGGER IF EXISTS {table}_append_only ON {table}"
            ))
            .await?;
        }
        db.execute_unprepared("DROP FUNCTION IF EXISTS dossier_refuse_change()")
            .await?;
        Ok(())
    }
}
