//! The change feed's ordering key: each timeline row remembers the transaction that wrote it.
//!
//! On PostgreSQL a sequence hands out ids in insert order, not commit order, so a reader paging by id
//! could pass over a row that a slower transaction commits later. `txid` is the writing transaction's
//! id (`pg_current_xact_id()`, filled in by the column default, so no insert has to name it); the feed
//! orders by `(txid, id)` and only reads below the oldest transaction still running, where nothing can
//! appear any more. Rows written before this migration read as transaction 0: they all committed
//! before any later row. On SQLite writers are serialized, ids follow commit order, and the column
//! stays empty.

use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            // A constant default first (no table rewrite for existing rows), then the per-transaction
            // default for new rows. NOT NULL makes an insert that sends NULL fail instead of hiding
            // its row from the feed.
            let db = manager.get_connection();
            db.execute_unprepared(
                "ALTER TABLE dossier_events ADD COLUMN txid BIGINT NOT NULL DEFAULT 0",
            )
            .await?;
            db.execute_unprepared(
                "ALTER TABLE dossier_events \
                 ALTER COLUMN txid SET DEFAULT (pg_current_xact_id()::text::bigint)",
            )
            .await?;
            db.execute_unprepared("CREATE INDEX dossier_events_feed ON dossier_events (txid, id)")
                .await?;
            Ok(())
        } else {
            manager
                .alter_table(
                    Table::alter()
                        .table(DossierEvents::Table)
                        .add_column(big_integer_null(DossierEvents::Txid))
                        .to_owned(),
                )
                .await
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("DROP INDEX IF EXISTS dossier_events_feed")
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(DossierEvents::Table)
                    .drop_column(DossierEvents::Txid)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum DossierEvents {
    Table,
    Txid,
}
