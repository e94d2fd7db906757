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

/// The checksum of `checksum`, fed piece by piece (each piece but the last a multiple of 8
/// bytes long, as `read_parts` feeds it).
struct Checksum {
    h: u64,
    len: usize,
    tail: Vec<u8>,
}

impl Checksum {
    fn new() -> Self {
        Checksum {
            h: 0xcbf2_9ce4_8422_2325,
            len: 0,
            tail: Vec::new(),
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        debug_assert!(self.tail.is_empty(), "only the last piece may be ragged");
        self.len += bytes.len();
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let word = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.h = (self.h ^ word)
                .wrapping_mul(0x0000_0100_0000_01b3)
                .rotate_left(29);
        }
        self.tail.extend_from_slice(chunks.remainder());
    }

    fn finish(self) -> u64 {
        let mut h = self.h;
        for &b in &self.tail {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^ self.len as u64
    }
}

/// Reads the snapshot's body (everything before the checksum) from any reader.
struct Reader<R> {
    r: R,
    at: usize,
    end: usize,
    scratch: Vec<u8>,
}

fn bad(what: &str) -> InventoryError {
    InventoryError(format!("inventory snapshot unusable: {what}"))
}

impl<R: std::io::Read> Reader<R> {
    fn reserve(&mut self, n: usize) -> Result<(), InventoryError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.end);
        self.at = end.ok_or_else(|| bad("truncated"))?;
        Ok(())
    }
    fn take_vec(&mut self, n: usize) -> Result<Vec<u8>, InventoryError> {
        self.reserve(n)?;
        let mut v = vec![0; n];
        self.r.read_exact(&mut v).map_err(|_| bad("truncated"))?;
        Ok(v)
    }
    fn take(&mut self, n: usize) -> Result<&[u8], InventoryError> {
        self.reserve(n)?;
        self.scratch.resize(n, 0);
        self.r
            .read_exact(&mut self.scratch)
            .map_err(|_| bad("truncated"))?;
        Ok(&self.scratch)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], InventoryError> {
        self.reserve(N)?;
        let mut b = [0; N];
        self.r.read_exact(&mut b).map_err(|_| bad("truncated"))?;
        Ok(b)
    }
    fn u32(&mut self) -> Result<u32, InventoryError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn i32(&mut self) -> Result<i32, InventoryError> {
        Ok(i32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, InventoryError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
}

/// The parts and tag of a snapshot file, read twice in pieces (the checksum first, then the
/// parts), so the file is never held whole beside the parts it holds. An I/O error is the
/// outer error; a file that is not an intact snapshot, the inner one.
pub fn read_parts(
    path: &std::path::Path,
) -> std::io::Result<Result<(Parts, Vec<u8>), InventoryError>> {
    use std::io::{Read, Seek};
    let mut file = std::fs::File::open(path)?;
    let len = usize::try_from(file.metadata()?.len()).unwrap_or(usize::MAX);
    if len < MAGIC.len() + 8 {
        return Ok(Err(bad("not a packstation inventory snapshot")));
    }
    let body_len = len - 8;
    let mut sum = Checksum::new();
    let mut piece = vec![0u8; 1 << 16];
    let mut left = body_len;
    let mut first = true;
    while left > 0 {
        let n = left.min(piece.len());
        file.read_exact(&mut piece[..n])?;
        if first && &piece[..MAGIC.len()] != MAGIC {
            return Ok(Err(bad("not a packstation inventory snapshot")));
        }
        first = false;
        sum.feed(&piece[..n]);
        left -= n;
    }
    let mut stored = [0u8; 8];
    file.read_exact(&mut stored)?;
    if sum.finish() != u64::from_le_bytes(stored) {
        return Ok(Err(bad("checksum mismatch")));
    }
    drop(piece);
    file.rewind()?; // the same file, even if a newer snapshot was renamed over the path
    let reader = std::io::BufReader::with_capacity(1 << 16, file);
    Ok(parse_body(reader, body_len))
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
    parse_body(body, body.len())
}

/// The parts and tag of a checked body (which starts with the magic).
fn parse_body(
    reader: impl std::io::Read,
    body_len: usize,
) -> Result<(Parts, Vec<u8>), InventoryError> {
    let mut r = Reader {
        r: reader,
        at: 0,
        end: body_len,
        scratch: Vec::new(),
    };
    r.take(MAGIC.len())?;
    let tag_len = r.u32()? as usize;
    let tag = r.take_vec(tag_len)?;
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
    let labels = r.take_vec(labels_len)?;
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
        let flags: [u8; 2] = r.array()?;
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
    if r.at != body_len {
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

    #[test]
    fn a_snapshot_file_is_read_in_pieces_and_checked_first() {
        let inv = sample();
        let bytes = encode(&inv, b"e:7");
        let dir = std::env::temp_dir().join(format!("psinv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("index.bin");
        std::fs::write(&path, &bytes).unwrap();
        let (parts, tag) = read_parts(&path).unwrap().unwrap();
        assert_eq!(tag, b"e:7");
        assert_eq!(view(&Inventory::build(parts).unwrap()), view(&inv));
        let mut flipped = bytes.clone();
        flipped[bytes.len() / 2] ^= 1;
        std::fs::write(&path, &flipped).unwrap();
        assert!(read_parts(&path)
            .unwrap()
            .unwrap_err()
            .0
            .contains("checksum"));
        std::fs::write(&path, &bytes[..bytes.len() - 9]).unwrap();
        assert!(read_parts(&path).unwrap().is_err());
        std::fs::write(&path, b"PSINV00").unwrap();
        assert!(read_parts(&path).unwrap().is_err());
        assert!(read_parts(&dir.join("missing.bin")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
