//! Exact rationals over i128 for limit math: caps, equivalency factors and remainders.
//!
//! Only rule compilation and result reporting use them; the per-line hot path works on the
//! integers that `limits` derives from them (each bucket scaled to a common denominator).

use std::cmp::Ordering;

/// A reduced fraction with a positive denominator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ratio {
    num: i128,
    den: i128,
}

/// Greatest common divisor (always >= 0). Binary (Stein's) on 64 bits when both fit: an i128
/// remainder is a library call, and reporting reduces a dozen fractions per check.
pub fn gcd(a: i128, b: i128) -> i128 {
    let (a, b) = (a.unsigned_abs(), b.unsigned_abs());
    let g = match (u64::try_from(a), u64::try_from(b)) {
        (Ok(a), Ok(b)) => u128::from(gcd_u64(a, b)),
        _ => gcd_u128(a, b),
    };
    // Only gcd(i128::MIN, i128::MIN or 0) is 2^127, which no caller reaches (amounts are far
    // below); saturate rather than wrap.
    i128::try_from(g).unwrap_or(i128::MAX)
}

/// Binary (Stein's) GCD, shifts and subtractions only, for one unsigned width.
macro_rules! binary_gcd {
    ($(#[$doc:meta])* $vis:vis $name:ident, $t:ty) => {
        $(#[$doc])*
        $vis fn $name(mut a: $t, mut b: $t) -> $t {
            if a == 0 {
                return b;
            }
            if b == 0 {
                return a;
            }
            let shift = (a | b).trailing_zeros();
            a >>= a.trailing_zeros();
            loop {
                b >>= b.trailing_zeros();
                if a > b {
                    std::mem::swap(&mut a, &mut b);
                }
                b -= a;
                if b == 0 {
                    return a << shift;
                }
            }
        }
    };
}

binary_gcd!(
    /// On 128 bits: a weighed portion's denominators take a cart past 64 bits, where a
    /// remainder is a slow library call per step.
    gcd_u128,
    u128
);
binary_gcd!(
    /// Greatest common divisor of two u64.
    pub gcd_u64,
    u64
);

/// Least common multiple of two positive integers; None on overflow.
/// `a * b`, None past i128. Operands that fit in 64 bits (every product of real measures)
/// multiply in one widening instruction: `checked_mul` on i128 is a library call, and it was a
/// quarter of the station's limit check.
#[inline]
pub fn mul(a: i128, b: i128) -> Option<i128> {
    match (i64::try_from(a), i64::try_from(b)) {
        (Ok(x), Ok(y)) => Some(i128::from(x) * i128::from(y)),
        _ => a.checked_mul(b),
    }
}

pub fn lcm(a: i128, b: i128) -> Option<i128> {
    if a == b || b == 1 {
        return Some(a);
    }
    if a == 1 {
        return Some(b);
    }
    (a / gcd(a, b)).checked_mul(b)
}

impl Ratio {
    /// `num/den` reduced; None when `den` is zero.
    pub fn new(num: i128, den: i128) -> Option<Self> {
        if den == 0 {
            return None;
        }
        if den == 1 {
            return Some(Self { num, den });
        }
        let g = gcd(num, den).max(1);
        if g == 1 && den > 0 {
            return Some(Self { num, den });
        }
        let sign = if den < 0 { -1 } else { 1 };
        Some(Self {
            num: sign * num / g,
            den: sign * den / g,
        })
    }

    pub const fn integer(n: i128) -> Self {
        Self { num: n, den: 1 }
    }

    pub const fn num(self) -> i128 {
        self.num
    }

    pub const fn den(self) -> i128 {
        self.den
    }

    pub const fn is_positive(self) -> bool {
        self.num > 0
    }

    /// `self * k` as an integer, when `k` is a multiple of the denominator.
    pub fn scaled(self, k: i128) -> Option<i128> {
        if k % self.den != 0 {
            return None;
        }
        (k / self.den).checked_mul(self.num)
    }

    /// Largest integer not above the value.
    pub const fn floor(self) -> i128 {
        self.num.div_euclid(self.den)
    }

    /// Decimal text rounded towards minus infinity to at most `places` digits, trailing zeros
    /// dropped ("2.5", "0.124", "-1"): rounding down never overstates what remains.
    pub fn to_decimal(self, places: u32) -> String {
        let scale = 10_i128.pow(places);
        let scaled = self.num.saturating_mul(scale).div_euclid(self.den);
        let sign = if scaled < 0 { "-" } else { "" };
        let abs = scaled.unsigned_abs();
        let (whole, frac) = (abs / scale as u128, abs % scale as u128);
        if frac == 0 {
            return format!("{sign}{whole}");
        }
        let digits = format!("{frac:0width$}", width = places as usize);
        format!("{sign}{whole}.{}", digits.trim_end_matches('0'))
    }
}

impl PartialOrd for Ratio {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ratio {
    fn cmp(&self, other: &Self) -> Ordering {
        // Denominators are positive, so cross-multiplication keeps the order.
        (self.num * other.den).cmp(&(other.num * self.den))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduces_and_normalises_sign() {
        let r = Ratio::new(10, -4).unwrap();
        assert_eq!((r.num(), r.den()), (-5, 2));
        assert!(Ratio::new(1, 0).is_none());
    }

    #[test]
    fn decimal_rounds_down() {
        assert_eq!(Ratio::new(5, 2).unwrap().to_decimal(3), "2.5");
        assert_eq!(Ratio::new(2, 3).unwrap().to_decimal(3), "0.666");
        assert_eq!(Ratio::new(-1, 8).unwrap().to_decimal(2), "-0.13");
        assert_eq!(Ratio::integer(7).to_decimal(3), "7");
    }

    #[test]
    fn gcd_matches_euclid() {
        let euclid = |a: i128, b: i128| {
            let (mut a, mut b) = (a.abs(), b.abs());
            while b != 0 {
                (a, b) = (b, a % b);
            }
            a
        };
        let samples = [
            0,
            1,
            2,
            3,
            12,
            18,
            454_000,
            1_000,
            283_495,
            1 << 40,
            -36,
            i128::from(u64::MAX),
            1 << 70,
            (1 << 70) * 3,
        ];
        for &a in &samples {
            for &b in &samples {
                assert_eq!(gcd(a, b), euclid(a, b), "gcd({a}, {b})");
            }
        }
    }

    #[test]
    fn lcm_and_scaling() {
        assert_eq!(lcm(4, 6), Some(12));
        assert_eq!(Ratio::new(3, 4).unwrap().scaled(12), Some(9));
        assert_eq!(Ratio::new(3, 4).unwrap().scaled(10), None);
    }
}
