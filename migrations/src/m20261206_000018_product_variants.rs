//! Product variants (issue 18): a product is sold in one or more sizes ("Hũ 250 g",
//! "Chai 500 ml"), each with its own price, stock, weight and SKU. The variant is the unit of
//! stock: checkout takes units from the variant row, and cart lines, order items, batches and
//! stock adjustments name the variant.
//!
//! Existing data loses nothing: every product gets one variant carrying its price, stock and
//! selling unit (as the label), 500 g as its weight (nothing says more), and every cart line,
//! order item, batch and stock adjustment is pointed at it. The product keeps `price_vnd`
//! (now the lowest variant price, for lists and search) and `stock_quantity` (now the sum of
//! its variants' stock), which the services keep in step in the transaction of each change.
//! `max_price_vnd` (the highest variant price) lets lists say "từ 120.000 ₫" when sizes
//! differ in price. No column is dropped.
//!
//! The new `variant_id` columns are added nullable and without a foreign key, since SQLite
//! cannot add either to an existing table; the services always write them.
//! The unique cart line is now per (cart, variant) instead of per (cart, product).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Weight given to a variant made from an existing product: nothing in the data says more.
const DEFAULT_WEIGHT_GRAMS: i64 = 500;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ProductVariants::Table)
                    .if_not_exists()
                    .col(big_pk_auto(ProductVariants::Id))
                    .col(big_integer(ProductVariants::ProductId))
                    .col(string_len(ProductVariants::Label, 60))
                    .col(big_integer(ProductVariants::PriceVnd))
                    .col(big_integer(ProductVariants::StockQuantity))
                    .col(big_integer(ProductVariants::WeightGrams))
                    .col(string_len_null(ProductVariants::Sku, 64))
                    .col(integer(ProductVariants::Position))
                    .col(timestamp_with_time_zone(ProductVariants::CreatedAt))
                    .col(timestamp_with_time_zone(ProductVariants::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ProductVariants::Table, ProductVariants::ProductId)
                            .to(Products::Table, Products::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_product_variants_product")
                    .table(ProductVariants::Table)
                    .col(ProductVariants::ProductId)
                    .col(ProductVariants::Position)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Products::Table)
                    .add_column(big_integer(Products::MaxPriceVnd).default(0))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared("UPDATE products SET max_price_vnd = price_vnd")
            .await?;
        db.execute_unprepared(&format!(
            "INSERT INTO product_variants (product_id, label, price_vnd, stock_quantity, \
             weight_grams, sku, position, created_at, updated_at) \
             SELECT id, unit, price_vnd, stock_quantity, {DEFAULT_WEIGHT_GRAMS}, NULL, 0, \
             created_at, updated_at FROM products ORDER BY id"
        ))
        .await?;

        for table in [
            Alias::new("cart_items"),
            Alias::new("order_items"),
            Alias::new("batches"),
            Alias::new("stock_adjustments"),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(table.clone())
                        .add_column(big_integer_null(Alias::new("variant_id")))
                        .to_owned(),
                )
                .await?;
            let name = table.to_string();
            db.execute_unprepared(&format!(
                "UPDATE {name} SET variant_id = (SELECT v.id FROM product_variants v \
                 WHERE v.product_id = {name}.product_id AND v.position = 0)"
            ))
            .await?;
            manager
                .create_index(
                    Index::create()
                        .name(format!("idx_{name}_variant"))
                        .table(table)
                        .col(Alias::new("variant_id"))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name("uq_cart_items_cart_product")
                    .table(Alias::new("cart_items"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_cart_items_cart_variant")
                    .table(Alias::new("cart_items"))
                    .col(Alias::new("cart_id"))
                    .col(Alias::new("variant_id"))
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("uq_cart_items_cart_variant")
                    .table(Alias::new("cart_items"))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // Carts may hold two sizes of one product; only one line per product fits the old
        // unique index.
        db.execute_unprepared(
            "DELETE FROM cart_items WHERE id NOT IN \
             (SELECT MIN(id) FROM cart_items GROUP BY cart_id, product_id)",
        )
        .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_cart_items_cart_product")
                    .table(Alias::new("cart_items"))
                    .col(Alias::new("cart_id"))
                    .col(Alias::new("product_id"))
                    .unique()
                    .to_owned(),
            )
            .await?;
        for table in ["cart_items", "order_items", "batches", "stock_adjustments"] {
            manager
                .drop_index(
                    Index::drop()
                        .name(format!("idx_{table}_variant"))
                        .table(Alias::new(table))
                        .to_owned(),
                )
                .await?;
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new(table))
                        .drop_column(Alias::new("variant_id"))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Products::Table)
                    .drop_column(Products::MaxPriceVnd)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(ProductVariants::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ProductVariants {
    Table,
    Id,
    ProductId,
    Label,
    PriceVnd,
    StockQuantity,
    WeightGrams,
    Sku,
    Position,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Products {
    Table,
    Id,
    MaxPriceVnd,
}
