//! Streaming INVENTORY.json: the file is read in blocks, cut between packages by a small JSON
//! scanner, and each package is parsed from its slice (serde_json parses slices about twice as
//! fast as readers). Memory stays at one block plus the index, whatever the file size.
//!
//! The scanner follows strings, escapes and nesting only far enough to find the package array
//! (top level, or METRC's `"Data"` member) and the bounds of each element; everything inside a
//! package is checked by serde_json. Errors give the line and column in the whole file.

use super::json::parse_package;
use super::parts::{InventoryError, Parts};
use std::io::Read;

const BLOCK: usize = 4 << 20;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Start,
    Array,
    Object,
    Done,
}

struct Scanner {
    pos: usize,
    depth: u32,
    in_str: bool,
    esc: bool,
    mode: Mode,
    /// Depth at which packages sit (1: top-level array; 2: inside "Data"), when inside the array.
    elements_at: Option<u32>,
    elem_start: Option<(usize, usize, usize)>, // (offset, line, column)
    need_sep: bool,
    expect_key: bool,
    key_start: usize,
    key_is_data: bool,
    found_data: bool,
    line: usize,
    line_start: usize,
    any_package: bool,
}

fn err(line: usize, col: usize, what: &str) -> InventoryError {
    InventoryError(format!("{what} at line {line} column {col}"))
}

impl Scanner {
    fn col(&self, at: usize) -> usize {
        at.wrapping_sub(self.line_start) + 1 // line_start may lie in a block already dropped
    }

    /// Scan `buf` from `self.pos`, handing each complete package slice to `package`.
    fn scan(
        &mut self,
        buf: &[u8],
        package: &mut impl FnMut(&[u8], usize, usize) -> Result<(), InventoryError>,
    ) -> Result<(), InventoryError> {
        while self.pos < buf.len() {
            let (at, b) = (self.pos, buf[self.pos]);
            self.pos += 1;
            if self.in_str {
                if self.esc {
                    self.esc = false;
                } else if b == b'\\' {
                    self.esc = true;
                } else if b == b'"' {
                    self.in_str = false;
                    if self.expect_key && self.depth == 1 {
                        self.key_is_data = &buf[self.key_start + 1..at] == b"Data";
                        self.expect_key = false;
                    }
                }
                continue;
            }
            match b {
                b'\n' => {
                    self.line += 1;
                    self.line_start = at + 1;
                }
                b' ' | b'\t' | b'\r' | b':' => {}
                b',' => self.comma(at)?,
                b'{' | b'[' => self.open(at, b)?,
                b'}' | b']' => self.close(buf, at, b, package)?,
                b'"' => {
                    self.value_start(at)?;
                    self.in_str = true;
                    self.key_start = at;
                }
                _ => self.value_start(at)?,
            }
        }
        Ok(())
    }

    fn comma(&mut self, at: usize) -> Result<(), InventoryError> {
        if Some(self.depth) == self.elements_at && self.elem_start.is_none() {
            if !self.need_sep {
                return Err(err(
                    self.line,
                    self.col(at),
                    "unexpected ',' between packages",
                ));
            }
            self.need_sep = false;
        }
        if self.mode == Mode::Object && self.depth == 1 {
            self.expect_key = true;
            self.key_is_data = false;
        }
        Ok(())
    }

    /// A value begins at `at` (any byte that is not structure or whitespace).
    fn value_start(&mut self, at: usize) -> Result<(), InventoryError> {
        match self.mode {
            Mode::Start => Err(err(
                self.line,
                self.col(at),
                r#"expected an array of packages or {"Data": [...]}"#,
            )),
            Mode::Done => Err(err(
                self.line,
                self.col(at),
                "trailing characters after the inventory",
            )),
            _ if Some(self.depth) == self.elements_at && self.elem_start.is_none() => Err(err(
                self.line,
                self.col(at),
                "each package must be a JSON object",
            )),
            _ => Ok(()),
        }
    }

    fn open(&mut self, at: usize, b: u8) -> Result<(), InventoryError> {
        match self.mode {
            Mode::Done => {
                return Err(err(
                    self.line,
                    self.col(at),
                    "trailing characters after the inventory",
                ))
            }
            Mode::Start => {
                self.mode = if b == b'[' { Mode::Array } else { Mode::Object };
                if b == b'[' {
                    self.elements_at = Some(1);
                } else {
                    self.expect_key = true;
                }
            }
            _ => {
                if Some(self.depth) == self.elements_at && self.elem_start.is_none() {
                    if b == b'[' {
                        return Err(err(
                            self.line,
                            self.col(at),
                            "each package must be a JSON object",
                        ));
                    }
                    if self.need_sep {
                        return Err(err(
                            self.line,
                            self.col(at),
                            "expected ',' between packages",
                        ));
                    }
                    self.elem_start = Some((at, self.line, self.col(at)));
                } else if self.mode == Mode::Object
                    && self.depth == 1
                    && b == b'['
                    && self.key_is_data
                {
                    if self.found_data {
                        return Err(err(self.line, self.col(at), r#""Data" is given twice"#));
                    }
                    self.elements_at = Some(2);
                    self.need_sep = false;
                }
            }
        }
        self.depth += 1;
        Ok(())
    }

    fn close(
        &mut self,
        buf: &[u8],
        at: usize,
        b: u8,
        package: &mut impl FnMut(&[u8], usize, usize) -> Result<(), InventoryError>,
    ) -> Result<(), InventoryError> {
        if self.depth == 0 || self.mode == Mode::Start {
            return Err(err(
                self.line,
                self.col(at),
                &format!("unexpected '{}'", b as char),
            ));
        }
        self.depth -= 1;
        if let (Some((start, line, col)), Some(d)) = (self.elem_start, self.elements_at) {
            if self.depth == d {
                package(&buf[start..=at], line, col)?;
                self.elem_start = None;
                self.need_sep = true;
                self.any_package = true;
            }
        } else if Some(self.depth + 1) == self.elements_at && b == b']' {
            if self.any_package && !self.need_sep {
                return Err(err(
                    self.line,
                    self.col(at),
                    "trailing ',' after the last package",
                ));
            }
            if self.mode == Mode::Object {
                self.found_data = true;
            }
            self.elements_at = None;
        }
        if self.depth == 0 {
            if self.mode == Mode::Object && !self.found_data {
                return Err(err(
                    self.line,
                    self.col(at),
                    r#"object without a "Data" array of packages"#,
                ));
            }
            self.mode = Mode::Done;
        }
        Ok(())
    }
}

/// Parse INVENTORY.json from a reader, block by block.
pub fn parse_reader(mut reader: impl Read) -> Result<Parts, InventoryError> {
    let mut parts = Parts::default();
    parts.label_starts.push(0);
    let mut sc = Scanner {
        pos: 0,
        depth: 0,
        in_str: false,
        esc: false,
        mode: Mode::Start,
        elements_at: None,
        elem_start: None,
        need_sep: false,
        expect_key: false,
        key_start: 0,
        key_is_data: false,
        found_data: false,
        line: 1,
        line_start: 0,
        any_package: false,
    };
    let mut buf: Vec<u8> = Vec::with_capacity(2 * BLOCK);
    let mut chunk = vec![0u8; BLOCK];
    loop {
        let n = reader
            .read(&mut chunk)
            .map_err(|e| InventoryError(format!("cannot read: {e}")))?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut on_package =
            |slice: &[u8], line: usize, col: usize| parse_package(&mut parts, slice, line, col);
        sc.scan(&buf, &mut on_package)?;
        // Keep only the unfinished package (or an unfinished key), drop what is parsed.
        let keep = match sc.elem_start {
            Some((start, _, _)) => start,
            None if sc.in_str => sc.key_start,
            None => sc.pos,
        };
        buf.drain(..keep);
        sc.pos -= keep;
        sc.key_start = sc.key_start.saturating_sub(keep);
        sc.line_start = sc.line_start.wrapping_sub(keep);
        if let Some((start, line, col)) = sc.elem_start {
            sc.elem_start = Some((start - keep, line, col));
        }
    }
    if sc.in_str || sc.depth > 0 || sc.mode == Mode::Start {
        return Err(err(
            sc.line,
            sc.col(sc.pos),
            "EOF while parsing the inventory",
        ));
    }
    Ok(parts)
}
