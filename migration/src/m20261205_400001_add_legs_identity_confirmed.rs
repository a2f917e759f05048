//! `legs.identity_confirmed`: whether the person who signed for a result was checked against the
//! dossier (Decision 45 Art. 10). `true` once a postman checked the identity document or a proxy's
//! written authorisation; `false` for a delivery the carrier reported without that check, which stays
//! an exception for the office until someone confirms it; `NULL` while nothing was delivered.
//! Results delivered before this column existed were delivered through the checked endpoint or a
//! scan and count as confirmed.

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
                    .add_column(boolean_null(Legs::IdentityConfirmed))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE legs SET identity_confirmed = TRUE \
                 WHERE direction = 'outbound' AND status = 'delivered'",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Legs::Table)
                    .drop_column(Legs::IdentityConfirmed)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Legs {
    Table,
    IdentityConfirmed,
}
