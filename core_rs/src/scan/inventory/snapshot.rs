//! A binary snapshot of the inventory's compact parts (interned strings, labels, records), so a
//! station starts from its last index without reading and parsing every replica row again.
//!
//! Layout (little-endian): `PSINV001`, the caller's tag (u32 length + bytes: the replica position
//! the index reflects), the interned strings (u32 count, then u32 length + UTF-8 each), u32 record
//! count, u32 label bytes + the label arena, (count + 1) u32 label starts, the records (11 u32 ids,
//! 2 i32 day numbers, 2 u8 flags, 5 u64 measures each), and a u64 checksum of everything before.
//! Loading checks the checksum and every bound, then indexes the parts as a build does (the label
//! table, the near-miss index and FIFO are rebuilt, not stored). The file is a cache: any problem
//! is an error and the caller builds from the rows instead.

use super::parts::{Interner, InventoryError, Parts, Record, NONE};
use super::Inventory;

const MAGIC: &[u8; 8] = b"PSINV001";
const RECORD_BYTES: usize = 11 * 4 + 2 * 4 + 2 + 5 * 8;

fn checksum(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let word = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h ^ word)
            .wrapping_mul(0x0000_0100_0000_01b3)
            .rotate_left(29);
    }
    for &b in chunks.remainder() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^ bytes.len() as u64
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// The snapshot bytes of `inv`, tagged with `tag`.
pub fn encode(inv: &Inventory, tag: &[u8]) -> Vec<u8> {
    let n = inv.records.len();
    let mut out = Vec::with_capacity(64 + tag.len() + inv.labels.len() + n * (RECORD_BYTES + 4));
    out.extend_from_slice(MAGIC);
    put32(&mut out, tag.len() as u32);
    out.extend_from_slice(tag);
    let names: Vec<&str> = (0..).map_while(|id| inv.strings.name(id)).collect();
    put32(&mut out, names.len() as u32);
    for name in names {
        put32(&mut out, name.len() as u32);
        out.extend_from_slice(name.as_bytes());
    }
    put32(&mut out, n as u32);
    put32(&mut out, inv.labels.len() as u32);
    out.extend_from_slice(&inv.labels);
    for &s in &inv.label_starts {
        put32(&mut out, s);
    }
    for r in inv.records.iter() {
        for v in [
            r.name,
            r.sku,
            r.batch,
            r.location,
            r.category,
            r.product_category,
            r.package_type,
            r.unit_of_measure,
            r.lab_state,
            r.quantity,
            r.unit_thc_content,
        ] {
            put32(&mut out, v);
        }
        out.extend_from_slice(&r.packaged.to_le_bytes());
        out.extend_from_slice(&r.expires.to_le_bytes());
        out.push(u8::from(r.on_hold));
        out.push(u8::from(r.finished));
        for m in r.measures {
            out.extend_from_slice(&m.to_le_bytes());
        }
    }
    let sum = checksum(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

fn bad(what: &str) -> InventoryError {
    InventoryError(format!("inventory snapshot unusable: {what}"))
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], InventoryError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| bad("truncated"))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32, InventoryError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i32(&mut self) -> Result<i32, InventoryError> {
        let b = self.take(4)?;
        Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, InventoryError> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    }
}

/// The index and tag of snapshot bytes; an error for anything but an intact snapshot.
pub fn decode(bytes: &[u8]) -> Result<(Inventory, Vec<u8>), InventoryError> {
    let (parts, tag) = decode_parts(bytes)?;
    Ok((Inventory::build(parts)?, tag))
}

/// The parts and tag of snapshot bytes (index them with `Inventory::build`: the caller can drop
/// the bytes first, so the file and the index are not held at once).
pub fn decode_parts(bytes: &[u8]) -> Result<(Parts, Vec<u8>), InventoryError> {
    if bytes.len() < MAGIC.len() + 8 || &bytes[..MAGIC.len()] != MAGIC {
        return Err(bad("not a packstation inventory snapshot"));
    }
    let (body, sum) = bytes.split_at(bytes.len() - 8);
    let stored = u64::from_le_bytes([
        sum[0], sum[1], sum[2], sum[3], sum[4], sum[5], sum[6], sum[7],
    ]);
    if checksum(body) != stored {
        return Err(bad("checksum mismatch"));
    }
    let mut r = Reader {
        bytes: body,
        at: MAGIC.len(),
    };
    let tag_len = r.u32()? as usize;
    let tag = r.take(tag_len)?.to_vec();
    let mut strings = Interner::default();
    let n_names = r.u32()?;
    for id in 0..n_names {
        let len = r.u32()? as usize;
        let name = std::str::from_utf8(r.take(len)?).map_err(|_| bad("a string is not UTF-8"))?;
        if strings.intern(name) != id {
            return Err(bad("a string is stored twice"));
        }
    }
    let n = r.u32()? as usize;
    let labels_len = r.u32()? as usize;
    let labels = r.take(labels_len)?.to_vec();
    let mut label_starts = Vec::with_capacity(n + 1);
    let mut prev = 0;
    for i in 0..=n {
        let s = r.u32()?;
        if s < prev || s as usize > labels_len || (i == 0 && s != 0) {
            return Err(bad("label bounds"));
        }
        label_starts.push(s);
        prev = s;
    }
    if prev as usize != labels_len {
        return Err(bad("label bounds"));
    }
    let id_ok = |v: u32| v == NONE || v < n_names;
    let mut records = super::Records::with_capacity(n);
    for _ in 0..n {
        let mut ids = [0u32; 11];
        for v in &mut ids {
            *v = r.u32()?;
            if !id_ok(*v) {
                return Err(bad("a string id out of range"));
            }
        }
        let packaged = r.i32()?;
        let expires = r.i32()?;
        let flags = r.take(2)?;
        let mut measures = [0u64; 5];
        for m in &mut measures {
            *m = r.u64()?;
        }
        records.push(&Record {
            name: ids[0],
            sku: ids[1],
            batch: ids[2],
            location: ids[3],
            category: ids[4],
            product_category: ids[5],
            package_type: ids[6],
            unit_of_measure: ids[7],
            lab_state: ids[8],
            quantity: ids[9],
            unit_thc_content: ids[10],
            packaged,
            expires,
            on_hold: flags[0] != 0,
            finished: flags[1] != 0,
            measures,
        });
    }
    if r.at != body.len() {
        return Err(bad("trailing bytes"));
    }
    let parts = Parts {
        labels,
        label_starts,
        records,
        strings,
    };
    Ok((parts, tag))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::inventory::from_rows::RowBuilder;

    fn sample() -> Inventory {
        let mut b = RowBuilder::new();
        for i in 0..50 {
            let label = format!("1A40603000{i:014}");
            let row = format!(
                r#"{{"Label":"{label}","Item":{{"Name":"N{}","UnitThcContent":24.5}},"Sku":"S{}","Batch":"B","PackagedDate":"2026-01-{:02}","NetWeightMg":{},"IsOnHold":{}}}"#,
                i % 3,
                i % 4,
                1 + i % 28,
                1000 + i,
                i % 2 == 0
            );
            assert!(b.add(&label, row.as_bytes()));
        }
        b.finish().unwrap().0
    }

    fn view(inv: &Inventory) -> Vec<String> {
        (0..inv.len() as u32)
            .map(|i| {
                let r = inv.record(i);
                format!(
                    "{} {:?} {:?} {} {} {:?} {:?}",
                    inv.label(i),
                    inv.text(r.name),
                    inv.text(r.sku),
                    r.packaged,
                    r.on_hold,
                    r.measures,
                    inv.text(r.unit_thc_content)
                )
            })
            .collect()
    }

    #[test]
    fn a_snapshot_gives_back_the_same_index_and_tag() {
        let inv = sample();
        let bytes = encode(&inv, b"epoch 1 seq 9");
        let (back, tag) = decode(&bytes).unwrap();
        assert_eq!(tag, b"epoch 1 seq 9");
        assert_eq!(view(&back), view(&inv));
        let sku = back.strings.get("S1").unwrap();
        assert_eq!(
            back.fifo_of(sku),
            inv.fifo_of(inv.strings.get("S1").unwrap())
        );
        assert_eq!(
            back.near("1A4060300000000000000001", 1, None).len(),
            inv.near("1A4060300000000000000001", 1, None).len()
        );
    }

    #[test]
    fn a_damaged_or_truncated_snapshot_is_refused() {
        let bytes = encode(&sample(), b"t");
        let mut flipped = bytes.clone();
        flipped[bytes.len() / 2] ^= 1;
        assert!(decode(&flipped).unwrap_err().0.contains("checksum"));
        assert!(decode(&bytes[..bytes.len() - 9]).is_err());
        assert!(decode(b"not a snapshot at all").is_err());
    }
}
