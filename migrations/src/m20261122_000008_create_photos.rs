//! Product and batch photos.
//!
//! A `photos` row describes one uploaded photo after processing: upright, stripped of metadata
//! and re-encoded into a few widths. The image files live in object storage (local files under
//! `./data/media` or S3-compatible storage) under names derived from `digest`, so the same
//! upload stored twice shares its files; a file is deleted with the last row naming it.
//!
//! `products.cover_photo` is a copy of the product's first photo (digest, size and widths, as
//! compact JSON), kept in the same transaction as any change to its photos, so that every
//! product list shows thumbnails without another query.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Photos::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Photos::Id))
                    .col(big_integer(Photos::CooperativeId))
                    .col(big_integer_null(Photos::ProductId))
                    .col(big_integer_null(Photos::BatchId))
                    .col(integer(Photos::Position))
                    // Hex SHA-256 prefix of the processing version and the uploaded bytes.
                    .col(string_len(Photos::Digest, 64))
                    // Size of the largest variant; the others keep its aspect ratio.
                    .col(integer(Photos::Width))
                    .col(integer(Photos::Height))
                    // Widths of the stored variants, ascending, comma-separated ("320,640,1280").
                    .col(string_len(Photos::Widths, 64))
                    .col(big_integer(Photos::StoredBytes))
                    .col(big_integer(Photos::UploadedBy))
                    .col(timestamp_with_time_zone(Photos::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Photos::Table, Photos::CooperativeId)
                            .to(Cooperatives::Table, Cooperatives::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Photos::Table, Photos::ProductId)
                            .to(Products::Table, Products::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Photos::Table, Photos::BatchId)
                            .to(Batches::Table, Batches::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Photos::Table, Photos::UploadedBy)
                            .to(Users::Table, Users::Id),
                    )
                    .check(
                        Expr::col(Photos::ProductId)
                            .is_not_null()
                            .or(Expr::col(Photos::BatchId).is_not_null()),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_photos_product", Photos::ProductId),
            ("idx_photos_batch", Photos::BatchId),
            ("idx_photos_digest", Photos::Digest),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Photos::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Products::Table)
                    .add_column(string_len_null(Products::CoverPhoto, 200))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Products::Table)
                    .drop_column(Products::CoverPhoto)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(Photos::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Photos {
    Table,
    Id,
    CooperativeId,
    ProductId,
    BatchId,
    Position,
    Digest,
    Width,
    Height,
    Widths,
    StoredBytes,
    UploadedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Products {
    Table,
    Id,
    CoverPhoto,
}

#[derive(DeriveIden)]
enum Cooperatives {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Batches {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
