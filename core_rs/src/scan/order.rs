//! ORDER.json (docs/formats.md): the lines to pick. Only what scan verdicts need is typed here;
//! `customer`, `prior` and the rest are checked to be JSON and left to the limit engine.

use serde::Deserialize;

/// What a line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Want {
    /// Exactly this package (tag, upper-cased).
    Uid(String),
    /// Any active package of this SKU (and batch, when the POS fixed it).
    Sku { sku: String, batch: Option<String> },
}

/// One order line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub line: u32,
    pub want: Want,
    pub quantity: u32,
    pub weigh: bool,
    pub labelled_weight_mg: Option<u64>,
    /// UIDs already verified for this line (set by the station).
    pub picked: Vec<String>,
}

/// The parts of an order that scan verdicts use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub order_id: String,
    pub lines: Vec<Line>,
}

/// A problem with an order file, in words for the person who supplied it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderError(pub String);

impl std::fmt::Display for OrderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Deserialize)]
struct RawOrder {
    order_id: String,
    lines: Vec<RawLine>,
}

#[derive(Deserialize)]
struct RawLine {
    line: Option<u32>,
    uid: Option<String>,
    sku: Option<String>,
    batch: Option<String>,
    quantity: Option<u32>,
    weigh: Option<bool>,
    labelled_weight_mg: Option<u64>,
    picked: Option<Vec<String>>,
}

impl Order {
    /// Parse and check ORDER.json.
    pub fn from_json(bytes: &[u8]) -> Result<Self, OrderError> {
        let raw: RawOrder = serde_json::from_slice(bytes).map_err(|e| OrderError(e.to_string()))?;
        if raw.order_id.trim().is_empty() {
            return Err(OrderError("\"order_id\" is empty".into()));
        }
        if raw.lines.is_empty() {
            return Err(OrderError(format!(
                "order {}: \"lines\" is empty",
                raw.order_id
            )));
        }
        let mut lines: Vec<Line> = Vec::with_capacity(raw.lines.len());
        for (i, l) in raw.lines.into_iter().enumerate() {
            let line = check_line(&raw.order_id, i, l)?;
            if lines.iter().any(|o| o.line == line.line) {
                return Err(OrderError(format!(
                    "order {}: line number {} is used twice",
                    raw.order_id, line.line
                )));
            }
            lines.push(line);
        }
        Ok(Order {
            order_id: raw.order_id,
            lines,
        })
    }
}

fn check_line(order: &str, i: usize, l: RawLine) -> Result<Line, OrderError> {
    let number = l.line.unwrap_or(i as u32 + 1);
    let err = |what: &str| OrderError(format!("order {order}: line {number}: {what}"));
    let clean = |s: Option<String>| s.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let want = match (clean(l.uid), clean(l.sku), clean(l.batch)) {
        (Some(uid), None, None) => Want::Uid(uid.to_ascii_uppercase()),
        (None, Some(sku), batch) => Want::Sku { sku, batch },
        (Some(_), Some(_), _) => return Err(err("give either \"uid\" or \"sku\", not both")),
        (Some(_), None, Some(_)) => return Err(err("\"batch\" goes with \"sku\", not \"uid\"")),
        (None, None, _) => return Err(err("needs \"uid\" or \"sku\"")),
    };
    let quantity = l.quantity.unwrap_or(1);
    if quantity == 0 {
        return Err(err("\"quantity\" must be at least 1"));
    }
    let picked: Vec<String> = l
        .picked
        .unwrap_or_default()
        .iter()
        .map(|p| p.trim().to_ascii_uppercase())
        .collect();
    if picked.len() > quantity as usize {
        return Err(err("more \"picked\" UIDs than \"quantity\""));
    }
    Ok(Line {
        line: number,
        want,
        quantity,
        weigh: l.weigh.unwrap_or(false),
        labelled_weight_mg: l.labelled_weight_mg,
        picked,
    })
}
