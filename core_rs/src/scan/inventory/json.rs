//! INVENTORY.json parsing (docs/formats.md): METRC package fields plus packstation's own.
//!
//! Packages are read one at a time straight into the compact store by serde visitors, so no
//! intermediate package objects are built and a file streams without being held in memory.
//! Unknown fields are skipped (a METRC export carries many more). Errors name the package by its
//! position and Label; serde_json adds the line and column.

use super::parts::{
    Interner, InventoryError, Parts, Record, MEASURE_FIELDS, NONE, NO_DATE, NO_MEASURE,
};
use crate::civil_date;
use crate::scan::tag_index::MAX_TAG_LEN;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;

pub fn parse_slice(bytes: &[u8]) -> Result<Parts, InventoryError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    finish(&mut de)
}

/// Parse one package object (a slice of the file that starts at `line`, `col`) into `parts`.
pub fn parse_package(
    parts: &mut Parts,
    slice: &[u8],
    line: usize,
    col: usize,
) -> Result<(), InventoryError> {
    if super::fast::package(parts, slice) {
        return Ok(());
    }
    let mut de = serde_json::Deserializer::from_slice(slice);
    PackageSeed(parts)
        .deserialize(&mut de)
        .and_then(|()| de.end())
        .map_err(|e| {
            let text = e.to_string();
            let msg = text
                .rsplit_once(" at line ")
                .map_or(text.as_str(), |(m, _)| m);
            let (l, c) = if e.line() <= 1 {
                (line, col + e.column().saturating_sub(1))
            } else {
                (line + e.line() - 1, e.column())
            };
            InventoryError(format!("{msg} at line {l} column {c}"))
        })
}

fn finish<'de, R: serde_json::de::Read<'de>>(
    de: &mut serde_json::Deserializer<R>,
) -> Result<Parts, InventoryError> {
    let mut parts = Parts::default();
    parts.label_starts.push(0);
    Top(&mut parts)
        .deserialize(&mut *de)
        .map_err(|e| InventoryError(e.to_string()))?;
    de.end().map_err(|e| InventoryError(e.to_string()))?;
    Ok(parts)
}

struct Top<'p>(&'p mut Parts);

impl<'de> DeserializeSeed<'de> for Top<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Top<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(r#"a JSON array of packages, or METRC's {"Data": [...]} object"#)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(PackageSeed(&mut *self.0))?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut found = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "Data" && !found {
                map.next_value_seed(List(&mut *self.0))?;
                found = true;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        if found {
            Ok(())
        } else {
            Err(de::Error::custom(
                r#"object without a "Data" array of packages"#,
            ))
        }
    }
}

struct List<'p>(&'p mut Parts);

impl<'de> DeserializeSeed<'de> for List<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for List<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(r#""Data" as an array of packages"#)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(PackageSeed(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

/// A string value handed to a closure (borrowed or from serde_json's scratch: no allocation);
/// JSON null gives None.
struct WithStr<F>(F, &'static str);

impl<'de, R, F: FnOnce(&str) -> Result<R, String>> DeserializeSeed<'de> for WithStr<F> {
    type Value = Option<R>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<R>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, R, F: FnOnce(&str) -> Result<R, String>> Visitor<'de> for WithStr<F> {
    type Value = Option<R>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a string for \"{}\"", self.1)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<R>, E> {
        (self.0)(v).map(Some).map_err(E::custom)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Option<R>, E> {
        Ok(None)
    }
}

fn interned<'a>(
    strings: &'a mut Interner,
    field: &'static str,
) -> WithStr<impl FnOnce(&str) -> Result<u32, String> + 'a> {
    WithStr(move |s: &str| Ok(strings.intern(s)), field)
}

fn date(field: &'static str) -> WithStr<impl FnOnce(&str) -> Result<i32, String>> {
    WithStr(
        move |s: &str| {
            civil_date::parse(s)
                .ok_or_else(|| format!("\"{field}\": expected a YYYY-MM-DD date, got {s:?}"))
        },
        field,
    )
}

/// A METRC decimal kept as its exact JSON text (never a float).
fn decimal<'de, A: MapAccess<'de>>(
    map: &mut A,
    strings: &mut Interner,
    field: &str,
) -> Result<u32, A::Error> {
    let Some(raw) = map.next_value::<Option<&'de RawValue>>()? else {
        return Ok(NONE);
    };
    let text = raw.get();
    if !text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        return Err(de::Error::custom(format!(
            "\"{field}\": expected a number, got {text}"
        )));
    }
    Ok(strings.intern(text))
}

fn measure<'de, A: MapAccess<'de>>(map: &mut A, field: &str) -> Result<u64, A::Error> {
    let Some(raw) = map.next_value::<Option<&'de RawValue>>()? else {
        return Ok(NO_MEASURE);
    };
    let text = raw.get();
    match text.parse::<u64>() {
        Ok(v) if v != NO_MEASURE => Ok(v),
        _ => Err(de::Error::custom(format!(
            "\"{field}\": expected a whole number >= 0 (integer milligrams or millilitres), got {text}"
        ))),
    }
}

#[derive(Default)]
pub(super) struct Draft {
    pub(super) label: Option<(u32, u32)>,
    pub(super) name: Option<u32>,
    pub(super) sku: Option<u32>,
    pub(super) batch: Option<u32>,
    pub(super) location: Option<u32>,
    pub(super) category: Option<u32>,
    pub(super) product_category: Option<u32>,
    pub(super) package_type: Option<u32>,
    pub(super) unit_of_measure: Option<u32>,
    pub(super) lab_state: Option<u32>,
    pub(super) quantity: Option<u32>,
    pub(super) unit_thc_content: Option<u32>,
    pub(super) packaged: Option<i32>,
    pub(super) expires: Option<i32>,
    pub(super) on_hold: Option<bool>,
    pub(super) finished: Option<bool>,
    pub(super) measures: [u64; 5],
}

struct PackageSeed<'p>(&'p mut Parts);

impl<'de> DeserializeSeed<'de> for PackageSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PackageSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "package #{} as an object", self.0.records.len() + 1)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let parts = self.0;
        let mut d = Draft {
            measures: [NO_MEASURE; 5],
            ..Draft::default()
        };
        while let Some(key) = map.next_key::<Key>()? {
            let s = &mut parts.strings;
            match key {
                Key::Label => {
                    let labels = &mut parts.labels;
                    d.label =
                        map.next_value_seed(WithStr(|v: &str| push_label(labels, v), "Label"))?;
                }
                Key::Item => map.next_value_seed(ItemSeed(s, &mut d))?,
                Key::Sku => d.sku = map.next_value_seed(interned(s, "Sku"))?,
                Key::Batch => d.batch = map.next_value_seed(interned(s, "Batch"))?,
                Key::Location => d.location = map.next_value_seed(interned(s, "Location"))?,
                Key::Category => d.category = map.next_value_seed(interned(s, "Category"))?,
                Key::PackageType => {
                    d.package_type = map.next_value_seed(interned(s, "PackageType"))?
                }
                Key::UnitOfMeasureName => {
                    d.unit_of_measure = map.next_value_seed(interned(s, "UnitOfMeasureName"))?
                }
                Key::LabTestingState => {
                    d.lab_state = map.next_value_seed(interned(s, "LabTestingState"))?
                }
                Key::Quantity => d.quantity = Some(decimal(&mut map, s, "Quantity")?),
                Key::PackagedDate => d.packaged = map.next_value_seed(date("PackagedDate"))?,
                Key::ExpirationDate => d.expires = map.next_value_seed(date("ExpirationDate"))?,
                Key::IsOnHold => d.on_hold = map.next_value::<Option<bool>>()?,
                Key::IsFinished => d.finished = map.next_value::<Option<bool>>()?,
                Key::Measure(i) => d.measures[i] = measure(&mut map, MEASURE_FIELDS[i])?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        commit(parts, d).map_err(de::Error::custom)
    }
}

/// A map key, matched against the known field names without allocating.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Key {
    Label,
    Item,
    Sku,
    Batch,
    Location,
    Category,
    PackageType,
    UnitOfMeasureName,
    LabTestingState,
    Quantity,
    PackagedDate,
    ExpirationDate,
    IsOnHold,
    IsFinished,
    Measure(usize),
    Name,
    ProductCategoryName,
    UnitThcContent,
    Other,
}

impl Key {
    pub(super) fn of(s: &str) -> Key {
        match s {
            "Label" => Key::Label,
            "Item" => Key::Item,
            "Sku" => Key::Sku,
            "Batch" => Key::Batch,
            "Location" => Key::Location,
            "Category" => Key::Category,
            "PackageType" => Key::PackageType,
            "UnitOfMeasureName" => Key::UnitOfMeasureName,
            "LabTestingState" => Key::LabTestingState,
            "Quantity" => Key::Quantity,
            "PackagedDate" => Key::PackagedDate,
            "ExpirationDate" => Key::ExpirationDate,
            "IsOnHold" => Key::IsOnHold,
            "IsFinished" => Key::IsFinished,
            "Name" => Key::Name,
            "ProductCategoryName" => Key::ProductCategoryName,
            "UnitThcContent" => Key::UnitThcContent,
            other => MEASURE_FIELDS
                .iter()
                .position(|f| *f == other)
                .map_or(Key::Other, Key::Measure),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(WithStr(|s: &str| Ok(Key::of(s)), "a key")
            .deserialize(d)?
            .unwrap_or(Key::Other))
    }
}

pub(super) fn push_label(labels: &mut Vec<u8>, v: &str) -> Result<(u32, u32), String> {
    let tag = v.trim();
    if tag.is_empty() || tag.len() > MAX_TAG_LEN || !tag.bytes().all(|c| c.is_ascii_graphic()) {
        return Err(format!(
            "\"Label\": expected 1 to {MAX_TAG_LEN} printable ASCII characters, got {v:?}"
        ));
    }
    let start = labels.len() as u32;
    labels.extend(tag.bytes().map(|c| c.to_ascii_uppercase()));
    Ok((start, labels.len() as u32))
}

struct ItemSeed<'a>(&'a mut Interner, &'a mut Draft);

impl<'de> DeserializeSeed<'de> for ItemSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ItemSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("\"Item\" as an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (s, d) = (self.0, self.1);
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Name => d.name = map.next_value_seed(interned(s, "Item.Name"))?,
                Key::ProductCategoryName => {
                    d.product_category =
                        map.next_value_seed(interned(s, "Item.ProductCategoryName"))?;
                }
                Key::UnitThcContent => {
                    d.unit_thc_content = Some(decimal(&mut map, s, "Item.UnitThcContent")?)
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

pub(super) fn commit(parts: &mut Parts, d: Draft) -> Result<(), String> {
    let n = parts.records.len() + 1;
    let Some((start, end)) = d.label else {
        return Err(format!("package #{n}: \"Label\" is missing"));
    };
    if start != *parts.label_starts.last().unwrap_or(&0) {
        return Err(format!("package #{n}: \"Label\" is given twice"));
    }
    let labels = &parts.labels;
    let need = |v: Option<u32>, field: &str| {
        v.ok_or_else(|| {
            let label = String::from_utf8_lossy(&labels[start as usize..end as usize]);
            format!("package #{n} (Label {label}): \"{field}\" is missing")
        })
    };
    let record = Record {
        name: need(d.name, "Item.Name")?,
        sku: need(d.sku, "Sku")?,
        batch: need(d.batch, "Batch")?,
        location: d.location.unwrap_or(NONE),
        category: d.category.unwrap_or(NONE),
        product_category: d.product_category.unwrap_or(NONE),
        package_type: d.package_type.unwrap_or(NONE),
        unit_of_measure: d.unit_of_measure.unwrap_or(NONE),
        lab_state: d.lab_state.unwrap_or(NONE),
        quantity: d.quantity.unwrap_or(NONE),
        unit_thc_content: d.unit_thc_content.unwrap_or(NONE),
        packaged: d.packaged.unwrap_or(NO_DATE),
        expires: d.expires.unwrap_or(NO_DATE),
        on_hold: d.on_hold.unwrap_or(false),
        finished: d.finished.unwrap_or(false),
        measures: d.measures,
    };
    parts.records.push(&record);
    parts.label_starts.push(end);
    Ok(())
}
