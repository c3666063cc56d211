//! Calendar arithmetic for the double's clock, without a date crate.
//! HTTP dates are in GMT; ERP dates (`created`, query windows, order numbers)
//! are Beijing wall time (UTC+8, no DST), as the real ERP shows them.

use std::time::{SystemTime, UNIX_EPOCH};

/// The protocol's epoch (docs/protocol.md, "timestamp"): 1325347200 is
/// 2012-01-01 00:00:00 in Beijing (2011-12-31 16:00:00 UTC); only the number
/// matters on the wire.
pub const WDT_EPOCH: i64 = 1_325_347_200;

const BEIJING_OFFSET: i64 = 8 * 3600;

/// Unix milliseconds of the host clock.
pub fn host_now_ms() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

struct Parts {
    y: i64,
    mo: u32,
    d: u32,
    h: i64,
    mi: i64,
    s: i64,
    weekday: usize,
}

fn split(unix: i64) -> Parts {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, mo, d) = civil_from_days(days);
    Parts {
        y,
        mo,
        d,
        h: secs / 3600,
        mi: secs / 60 % 60,
        s: secs % 60,
        // 1970-01-01 was a Thursday; index 0 is Sunday.
        weekday: (days + 4).rem_euclid(7) as usize,
    }
}

/// RFC 7231 IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn imf_fixdate(unix: i64) -> String {
    const WD: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let p = split(unix);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        WD[p.weekday],
        p.d,
        MON[p.mo as usize - 1],
        p.y,
        p.h,
        p.mi,
        p.s
    )
}

/// `yyyy-MM-dd HH:mm:ss` in Beijing time.
pub fn beijing_datetime(unix: i64) -> String {
    let p = split(unix + BEIJING_OFFSET);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        p.y, p.mo, p.d, p.h, p.mi, p.s
    )
}

/// `yyyyMMdd` in Beijing time, for document numbers such as `RK2026112800001`.
pub fn beijing_yyyymmdd(unix: i64) -> String {
    let p = split(unix + BEIJING_OFFSET);
    format!("{:04}{:02}{:02}", p.y, p.mo, p.d)
}

/// Parses `yyyy-MM-dd HH:mm:ss` as Beijing time; `None` when it does not
/// match that shape exactly (the gateway then says `Unparseable date`).
pub fn parse_beijing_datetime(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = &s[r];
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let days = days_from_civil(y, mo as u32, d as u32);
    // Reject 2024-02-30 and friends rather than rolling them over.
    if civil_from_days(days) != (y, mo as u32, d as u32) {
        return None;
    }
    Some(days * 86_400 + h * 3600 + mi * 60 + sec - BEIJING_OFFSET)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7231_example() {
        assert_eq!(imf_fixdate(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
    }

    #[test]
    fn leap_day_and_epoch() {
        assert_eq!(imf_fixdate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(imf_fixdate(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(imf_fixdate(WDT_EPOCH), "Sat, 31 Dec 2011 16:00:00 GMT");
    }

    #[test]
    fn beijing_round_trip() {
        let t = parse_beijing_datetime("2024-08-30 17:38:35").unwrap();
        assert_eq!(t, 1_725_010_715);
        assert_eq!(beijing_datetime(t), "2024-08-30 17:38:35");
        assert_eq!(beijing_yyyymmdd(WDT_EPOCH), "20120101");
    }

    #[test]
    fn rejects_malformed_dates() {
        for s in [
            "2024/01/01 00:00:00",
            "2024-02-30 00:00:00",
            "2024-01-01",
            "2024-01-01 24:00:00",
            "2024-01-01T00:00:00",
        ] {
            assert_eq!(parse_beijing_datetime(s), None, "{s}");
        }
    }
}
