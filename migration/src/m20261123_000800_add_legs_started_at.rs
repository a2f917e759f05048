//! `legs.started_at`: when a parcel left — picked up at the citizen's (inbound, the pickup slip's
//! time) or handed to the post with the result (outbound, the signing of the handover record). The
//! reports measure transit from it. Existing legs take it from their pickup slip and from their
//! `handed_to_post` timeline event.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Legs::Table)
                    .add_column(timestamp_with_time_zone_null(Legs::StartedAt))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "UPDATE legs SET started_at = \
             (SELECT s.picked_up_at FROM pickup_slips s WHERE s.leg_id = legs.id) \
             WHERE direction = 'inbound'",
        )
        .await?;
        db.execute_unprepared(
            "UPDATE legs SET started_at = \
             (SELECT MAX(e.at) FROM dossier_events e \
              WHERE e.dossier_id = legs.dossier_id AND e.kind = 'handed_to_post') \
             WHERE direction = 'outbound'",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Legs::Table)
                    .drop_column(Legs::StartedAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Legs {
    Table,
    StartedAt,
}
