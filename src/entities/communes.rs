use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "communes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    pub province_code: String,
    pub name: String,
    pub kind: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::provinces::Entity",
        from = "Column::ProvinceCode",
        to = "super::provinces::Column::Code"
    )]
    Provinces,
}

impl Related<super::provinces::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Provinces.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
