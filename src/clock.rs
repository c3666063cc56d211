//! The gateway's clock as seen from here. The gateway refuses a timestamp more than 120 s from
//! its own clock (status 7, 时间戳错误), and till clocks drift by minutes. Every answer's `Date`
//! header teaches us the offset; the next sign uses local time corrected by it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::calendar::days_from_civil;
use crate::sign::GATEWAY_EPOCH;

/// The offset between the gateway's clock and ours, learned from its answers.
#[derive(Debug, Default)]
pub struct Clock {
    /// Gateway time minus local time, in seconds.
    offset: AtomicI64,
}

impl Clock {
    /// Gateway time minus local time, in seconds.
    pub fn offset(&self) -> i64 {
        self.offset.load(Ordering::Relaxed)
    }

    /// The `timestamp` query parameter: corrected Unix seconds minus the gateway's epoch.
    pub fn timestamp(&self) -> i64 {
        unix_now() + self.offset() - GATEWAY_EPOCH
    }

    /// Learns the offset from the `Date` header of an answer the gateway itself gave. Offsets
    /// of a second or two are noise (whole seconds, and the answer took time to arrive). A step
    /// larger than the gateway's own tolerance is taken only when `jump_allowed` (the answer was
    /// 时间戳错误, status 7, which proves our timestamp was off), and an offset beyond
    /// [`MAX_OFFSET`] never: such a header is a broken server, not a till clock.
    pub fn observe_date(&self, date: &str, jump_allowed: bool) -> Learned {
        let Some(server) = parse_http_date(date) else {
            return Learned::Unchanged;
        };
        let offset = server.saturating_sub(unix_now());
        let old = self.offset();
        let step = (offset - old).abs();
        if step <= 2 {
            return Learned::Unchanged;
        }
        if offset.abs() > MAX_OFFSET || (step > TOLERANCE && !jump_allowed) {
            return Learned::Ignored(offset);
        }
        self.offset.store(offset, Ordering::Relaxed);
        Learned::Changed
    }
}

/// The gateway's tolerance for a timestamp (±120 s, status 7 beyond it).
pub const TOLERANCE: i64 = 120;

/// A till clock may be days off after a dead CMOS battery; a Date header farther than a day
/// from the local clock is not believed.
pub const MAX_OFFSET: i64 = 24 * 3600;

/// What a `Date` header did to the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Learned {
    /// Nothing new (no date, or within noise).
    Unchanged,
    /// The offset was updated.
    Changed,
    /// Not believed: the offset it would have set, for the log.
    Ignored(i64),
}

/// Local Unix seconds (negative before 1970, still correctable by the offset).
pub fn unix_now() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        // A clock before 1970: negative seconds, still correctable by the offset.
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7), the only form a
/// modern server sends. Returns Unix seconds. Strict on purpose: the header comes from the
/// network (a proxy, a captive portal), so every field has its exact width and range and the
/// arithmetic below can never overflow (fuzzing found that a lax parse could).
pub fn parse_http_date(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    // "Sun, 06 Nov 1994 08:49:37 GMT" is exactly 29 bytes.
    if b.len() != 29 || &b[3..5] != b", " || b[7] != b' ' || b[11] != b' ' || b[16] != b' ' {
        return None;
    }
    if b[19] != b':' || b[22] != b':' || &b[25..] != b" GMT" {
        return None;
    }
    let num = |from: usize, len: usize| -> Option<i64> {
        let digits = &b[from..from + len];
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(digits.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let day = num(5, 2)?;
    let month = match &b[8..11] {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    };
    let year = num(12, 4)?;
    let (h, m, sec) = (num(17, 2)?, num(20, 2)?, num(23, 2)?);
    if !(1..=31).contains(&day) || year < 1970 || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + sec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_imf_fixdate() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784111777)
        );
        // The gateway epoch is midnight 2012-01-01 in Beijing (UTC+8), not UTC.
        assert_eq!(
            parse_http_date("Sat, 31 Dec 2011 16:00:00 GMT"),
            Some(GATEWAY_EPOCH)
        );
        assert_eq!(
            parse_http_date("Sat, 29 Feb 2020 12:00:00 GMT"),
            Some(1582977600)
        );
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(parse_http_date("garbage"), None);
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 PST"), None);
        // Found by fuzzing: signs, huge numbers and short fields once overflowed the arithmetic.
        for bad in [
            ", 6 Nov 9 8:-9223372036854770023:9 GMT",
            "Sun, 06 Nov 99999999999999 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:-9:37 GMT",
            "Sun, +6 Nov 1994 08:49:37 GMT",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1969 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMTX",
            "Sun, 06 Nov 1994 08:49:37 GMT\u{1F600}",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
        assert_eq!(
            parse_http_date("Fri, 31 Dec 9999 23:59:59 GMT"),
            Some(253402300799)
        );
    }

    #[test]
    fn learns_offset() {
        let clock = Clock::default();
        let ahead = unix_now() + 300;
        let date = format_date(ahead);
        assert_eq!(
            clock.observe_date(&date, false),
            Learned::Ignored(300),
            "a 5 min step needs a status-7 answer"
        );
        assert_eq!(clock.offset(), 0);
        assert_eq!(clock.observe_date(&date, true), Learned::Changed);
        assert!((clock.offset() - 300).abs() <= 1);
        assert_eq!(
            clock.observe_date(&date, false),
            Learned::Unchanged,
            "same offset again is not a change"
        );
        assert!((clock.timestamp() - (unix_now() + 300 - GATEWAY_EPOCH)).abs() <= 1);
        // Small drift follows any gateway answer.
        assert_eq!(
            clock.observe_date(&format_date(unix_now() + 360), false),
            Learned::Changed
        );
    }

    #[test]
    fn skew_is_bounded() {
        let clock = Clock::default();
        for far in [2 * 86_400, -(2 * 86_400), 86_400 + 10] {
            let date = format_date(unix_now() + far);
            assert!(
                matches!(clock.observe_date(&date, true), Learned::Ignored(_)),
                "{far}"
            );
            assert_eq!(clock.offset(), 0, "{far}");
        }
        assert_eq!(
            clock.observe_date(&format_date(unix_now() + 86_000), true),
            Learned::Changed
        );
    }

    fn format_date(unix: i64) -> String {
        let days = unix.div_euclid(86_400);
        let secs = unix.rem_euclid(86_400);
        let (y, m, d) = crate::calendar::civil_from_days(days);
        let months = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        format!(
            "Mon, {d:02} {} {y} {:02}:{:02}:{:02} GMT",
            months[(m - 1) as usize],
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }
}
