//! The check's time: an ISO 8601 time with a UTC offset read to whole epoch seconds, and the
//! store-local calendar day from a UTC offset. Only the one shape the station writes
//! (`YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|+HH:MM|-HH:MM)`) is read here; anything else is left to
//! the caller's full parser (Python's `datetime.fromisoformat`), so no time this accepts is
//! read differently there.

/// 1970-01-01 as a proleptic Gregorian ordinal (`date(1970, 1, 1).toordinal()`).
pub const EPOCH_ORDINAL: i64 = 719_163;
const SECONDS_PER_DAY: i64 = 86_400;

use crate::civil_date::{days_from_civil, days_in_month};

fn digits(b: &[u8]) -> Option<i64> {
    let mut n = 0_i64;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + i64::from(c - b'0');
    }
    Some(n)
}

/// Whole seconds since 1970-01-01T00:00:00Z (sub-seconds dropped, i.e. floored) of `text`
/// when it has the station's shape and is a valid time; None otherwise (the caller parses it).
pub fn epoch_seconds(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let (h, mi, s) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    if y < 1 || !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
        return None;
    }
    if h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let mut rest = &b[19..];
    if rest.first() == Some(&b'.') {
        let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if !(1..=6).contains(&n) {
            return None;
        }
        rest = &rest[1 + n..];
    }
    let offset = match rest {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), oh @ .., b':', m1, m2] if oh.len() == 2 => {
            let (oh, om) = (digits(oh)?, digits(&[*m1, *m2])?);
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 3600 + om * 60;
            if *sign == b'-' {
                -off
            } else {
                off
            }
        }
        _ => return None,
    };
    Some(days_from_civil(y, mo, d) * SECONDS_PER_DAY + h * 3600 + mi * 60 + s - offset)
}

/// The calendar day (a proleptic Gregorian ordinal) at `at_s` where the UTC offset is
/// `offset_s` seconds.
pub fn local_day(at_s: i64, offset_s: i64) -> i64 {
    (at_s + offset_s).div_euclid(SECONDS_PER_DAY) + EPOCH_ORDINAL
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_station_shape() {
        assert_eq!(epoch_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(epoch_seconds("1970-01-01T00:00:00.999+00:00"), Some(0));
        assert_eq!(epoch_seconds("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(epoch_seconds("1969-12-31T17:00:00-07:00"), Some(0));
        assert_eq!(epoch_seconds("1969-12-31T23:59:59.5Z"), Some(-1));
        assert_eq!(
            epoch_seconds("2026-12-01T10:11:12.123-07:00"),
            Some(1_796_145_072)
        );
        assert_eq!(epoch_seconds("2024-02-29T00:00:00Z"), Some(1_709_164_800));
    }

    #[test]
    fn leaves_other_shapes_to_the_caller() {
        for text in [
            "2026-02-29T00:00:00Z",
            "2026-12-01T24:00:00Z",
            "2026-12-01T10:11:12",
            "2026-12-01 10:11:12Z",
            "2026-12-01T10:11:12+0700",
            "2026-12-01T10:11:12.1234567Z",
            "2026-12-01T10:11:12.Z",
            "2026-12-01T10:11:12+24:00",
            "2026-12-01T10:11:12+05:30:15",
            "0000-01-01T00:00:00Z",
            "2026-12-01T10:11:12z",
            "２０２6-12-01T10:11:12Z",
        ] {
            assert_eq!(epoch_seconds(text), None, "{text}");
        }
    }

    #[test]
    fn local_days() {
        assert_eq!(local_day(0, 0), EPOCH_ORDINAL);
        assert_eq!(local_day(0, -1), EPOCH_ORDINAL - 1);
        assert_eq!(local_day(86_399, 0), EPOCH_ORDINAL);
        assert_eq!(local_day(86_399, 1), EPOCH_ORDINAL + 1);
    }
}
