//! Reference data shipped with the app: Vietnam's administrative units since the July 2025
//! reform and the OCOP product groups and categories.
//!
//! The data is compiled into the binary from `assets/`, held in memory for lookups, and written
//! to the database tables at start-up (so that foreign keys and SQL reports can use it).

mod routes;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait, Set};
use serde::Deserialize;

use crate::domain::{CommuneCode, FieldIssue};
use crate::entities::{communes, ocop_categories, ocop_groups, provinces};
use crate::i18n::Lang;

pub use routes::api_routes;

#[derive(Debug, Clone)]
pub struct Province {
    pub code: String,
    pub name: String,
    pub short_name: String,
    pub kind: String,
}

#[derive(Debug, Clone)]
pub struct Commune {
    pub code: String,
    pub province_code: String,
    pub name: String,
    pub kind: String,
}

#[derive(Debug, Clone)]
pub struct Category {
    pub code: String,
    pub group_code: String,
    pub name_vi: String,
    pub name_en: String,
}

impl Category {
    pub fn name(&self, lang: impl std::borrow::Borrow<Lang>) -> &str {
        match lang.borrow() {
            Lang::Vi => &self.name_vi,
            Lang::En => &self.name_en,
        }
    }
}

#[derive(Debug, Clone)]
pub struct CategoryGroup {
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    pub categories: Vec<Category>,
}

impl CategoryGroup {
    pub fn name(&self, lang: impl std::borrow::Borrow<Lang>) -> &str {
        match lang.borrow() {
            Lang::Vi => &self.name_vi,
            Lang::En => &self.name_en,
        }
    }
}

/// All reference data, indexed for lookups.
#[derive(Debug)]
pub struct ReferenceData {
    pub provinces: Vec<Province>,
    pub communes: Vec<Commune>,
    pub groups: Vec<CategoryGroup>,
    province_index: HashMap<String, usize>,
    commune_index: HashMap<String, usize>,
    category_index: HashMap<String, (usize, usize)>,
}

impl ReferenceData {
    /// The data compiled into this binary.
    pub fn embedded() -> Arc<Self> {
        static DATA: LazyLock<Arc<ReferenceData>> = LazyLock::new(|| {
            Arc::new(ReferenceData::parse(
                include_str!("../../assets/administrative-units.json"),
                include_str!("../../assets/ocop-categories.json"),
            ))
        });
        DATA.clone()
    }

    fn parse(units_json: &str, categories_json: &str) -> Self {
        #[derive(Deserialize)]
        struct UnitsFile {
            provinces: Vec<ProvinceEntry>,
        }
        #[derive(Deserialize)]
        struct ProvinceEntry {
            code: String,
            name: String,
            short_name: String,
            kind: String,
            communes: Vec<(String, String, String)>,
        }
        #[derive(Deserialize)]
        struct CategoriesFile {
            groups: Vec<GroupEntry>,
        }
        #[derive(Deserialize)]
        struct GroupEntry {
            code: String,
            name_vi: String,
            name_en: String,
            categories: Vec<CategoryEntry>,
        }
        #[derive(Deserialize)]
        struct CategoryEntry {
            code: String,
            name_vi: String,
            name_en: String,
        }

        let units: UnitsFile =
            serde_json::from_str(units_json).expect("assets/administrative-units.json is valid");
        let cats: CategoriesFile =
            serde_json::from_str(categories_json).expect("assets/ocop-categories.json is valid");

        let mut provinces = Vec::new();
        let mut communes = Vec::new();
        for p in units.provinces {
            for (code, name, kind) in p.communes {
                communes.push(Commune {
                    code,
                    province_code: p.code.clone(),
                    name,
                    kind,
                });
            }
            provinces.push(Province {
                code: p.code,
                name: p.name,
                short_name: p.short_name,
                kind: p.kind,
            });
        }
        provinces.sort_by(|a, b| a.short_name.cmp(&b.short_name));
        let groups: Vec<CategoryGroup> = cats
            .groups
            .into_iter()
            .map(|g| CategoryGroup {
                categories: g
                    .categories
                    .into_iter()
                    .map(|c| Category {
                        code: c.code,
                        group_code: g.code.clone(),
                        name_vi: c.name_vi,
                        name_en: c.name_en,
                    })
                    .collect(),
                code: g.code,
                name_vi: g.name_vi,
                name_en: g.name_en,
            })
            .collect();

        let province_index = provinces
            .iter()
            .enumerate()
            .map(|(i, p)| (p.code.clone(), i))
            .collect();
        let commune_index = communes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.code.clone(), i))
            .collect();
        let category_index = groups
            .iter()
            .enumerate()
            .flat_map(|(gi, g)| {
                g.categories
                    .iter()
                    .enumerate()
                    .map(move |(ci, c)| (c.code.clone(), (gi, ci)))
            })
            .collect();
        Self {
            provinces,
            communes,
            groups,
            province_index,
            commune_index,
            category_index,
        }
    }

    pub fn province(&self, code: &str) -> Option<&Province> {
        self.province_index.get(code).map(|&i| &self.provinces[i])
    }

    pub fn commune(&self, code: &str) -> Option<&Commune> {
        self.commune_index.get(code).map(|&i| &self.communes[i])
    }

    pub fn category(&self, code: &str) -> Option<&Category> {
        self.category_index
            .get(code)
            .map(|&(g, c)| &self.groups[g].categories[c])
    }

    /// Parses a commune code that must name a commune or ward of the reference data.
    pub fn parse_commune(&self, input: &str) -> Result<CommuneCode, FieldIssue> {
        let code = CommuneCode::parse(input)?;
        if self.commune(code.as_str()).is_some() {
            Ok(code)
        } else {
            Err(FieldIssue::new(
                "unknown_commune",
                "no commune or ward has this code",
            ))
        }
    }

    /// Like [`Self::parse_commune`], but an empty input is `None`.
    pub fn parse_optional_commune(&self, input: &str) -> Result<Option<CommuneCode>, FieldIssue> {
        if input.trim().is_empty() {
            Ok(None)
        } else {
            self.parse_commune(input).map(Some)
        }
    }

    pub fn communes_of(&self, province_code: &str) -> impl Iterator<Item = &Commune> {
        self.communes
            .iter()
            .filter(move |c| c.province_code == province_code)
    }

    pub fn categories(&self) -> impl Iterator<Item = &Category> {
        self.groups.iter().flat_map(|g| g.categories.iter())
    }

    /// "Xã Gia Phú, Lào Cai" — the place line shown under a product or cooperative.
    pub fn place_name(&self, commune_code: &str) -> String {
        match self.commune(commune_code) {
            Some(c) => match self.province(&c.province_code) {
                Some(p) => format!("{}, {}", c.name, p.short_name),
                None => c.name.clone(),
            },
            None => commune_code.to_owned(),
        }
    }

    /// Writes the reference rows into the database; rows already there are left alone, so this
    /// is cheap on every start-up after the first.
    pub async fn store(&self, db: &impl ConnectionTrait) -> Result<(), sea_orm::DbErr> {
        if provinces::Entity::find().count(db).await? as usize == self.provinces.len()
            && communes::Entity::find().count(db).await? as usize == self.communes.len()
            && ocop_categories::Entity::find().count(db).await? as usize
                == self.categories().count()
        {
            return Ok(());
        }
        provinces::Entity::insert_many(self.provinces.iter().map(|p| provinces::ActiveModel {
            code: Set(p.code.clone()),
            name: Set(p.name.clone()),
            short_name: Set(p.short_name.clone()),
            kind: Set(p.kind.clone()),
        }))
        .on_conflict_do_nothing_on([provinces::Column::Code])
        .exec(db)
        .await?;
        // Inserted in chunks: SQLite limits the number of bound parameters per statement.
        for chunk in self.communes.chunks(500) {
            communes::Entity::insert_many(chunk.iter().map(|c| communes::ActiveModel {
                code: Set(c.code.clone()),
                province_code: Set(c.province_code.clone()),
                name: Set(c.name.clone()),
                kind: Set(c.kind.clone()),
            }))
            .on_conflict_do_nothing_on([communes::Column::Code])
            .exec(db)
            .await?;
        }
        ocop_groups::Entity::insert_many(self.groups.iter().enumerate().map(|(i, g)| {
            ocop_groups::ActiveModel {
                code: Set(g.code.clone()),
                name_vi: Set(g.name_vi.clone()),
                name_en: Set(g.name_en.clone()),
                position: Set(i as i32),
            }
        }))
        .on_conflict_do_nothing_on([ocop_groups::Column::Code])
        .exec(db)
        .await?;
        ocop_categories::Entity::insert_many(self.categories().enumerate().map(|(i, c)| {
            ocop_categories::ActiveModel {
                code: Set(c.code.clone()),
                group_code: Set(c.group_code.clone()),
                name_vi: Set(c.name_vi.clone()),
                name_en: Set(c.name_en.clone()),
                position: Set(i as i32),
            }
        }))
        .on_conflict_do_nothing_on([ocop_categories::Column::Code])
        .exec(db)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn administrative_units_match_the_july_2025_reform() {
        let data = ReferenceData::embedded();
        assert_eq!(data.provinces.len(), 34);
        assert_eq!(data.communes.len(), 3321);
        assert_eq!(
            data.provinces.iter().filter(|p| p.kind == "city").count(),
            6
        );
        let gia_phu = data.commune("02923").expect("Xã Gia Phú exists");
        assert_eq!(gia_phu.name, "Xã Gia Phú");
        assert_eq!(
            data.province(&gia_phu.province_code).unwrap().short_name,
            "Lào Cai"
        );
        assert_eq!(data.place_name("02905"), "Xã Bảo Thắng, Lào Cai");
        assert!(
            data.communes
                .iter()
                .all(|c| data.province(&c.province_code).is_some())
        );
    }

    #[test]
    fn ocop_categories_are_indexed_under_their_six_groups() {
        let data = ReferenceData::embedded();
        assert_eq!(data.groups.len(), 6);
        assert_eq!(data.category("food-tea").unwrap().name_vi, "Chè");
        assert_eq!(data.category("food-tea").unwrap().name(Lang::En), "Tea");
        assert!(data.category("nonsense").is_none());
    }
}
