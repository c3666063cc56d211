//! The quick return read in one pass: the request text is checked against the same rules as
//! `smart_refund` and its three arguments are copied, compacted, straight into the body. No
//! `Value` tree: parsing the request into one, checking it and printing it again was a third of
//! a warm call's instructions (BENCHMARKS.md).
//!
//! It only ever says yes. Anything it does not handle — an invalid request, an escape in a key,
//! a number with an exponent (serde_json rewrites those), a repeated key, deep nesting — gives
//! None, and the request goes through `parse_object` + `smart_refund`, which decide and name the
//! error. When it says yes, that path would have produced the same `Prepared`, byte for byte:
//! unit tests here, `tests/proptest.rs` and the `request` fuzz target compare the two.

use std::borrow::Cow;
use std::ops::Range;

use super::{Prepared, ID, REMARK, SMART_REFUND_UPLOAD};
use crate::validate::{fits, Text};

/// Deeper than this goes the slow way (serde_json's own limit is 128).
const MAX_DEPTH: usize = 64;
/// An object with more keys than this goes the slow way (the repeated-key check is quadratic).
const MAX_KEYS: usize = 32;

/// The quick return's `Prepared` if `text` is a valid quick return this reader handles.
pub fn smart_refund(text: &str) -> Option<Prepared> {
    let mut s = Scan {
        text,
        b: text.as_bytes(),
        i: 0,
        out: String::with_capacity(text.len() + 2),
        keys: Vec::new(),
    };
    s.out.push('[');
    let mut args: [Option<Range<usize>>; 3] = [None, None, None];
    s.ws();
    s.eat(b'{')?;
    loop {
        s.ws();
        let key = s.key()?;
        let k = ["refundInfo", "detailMapList", "createPreStockin"]
            .iter()
            .position(|&name| name == key)?;
        if args[k].is_some() {
            return None;
        }
        s.ws();
        s.eat(b':')?;
        s.ws();
        let start = s.out.len();
        match k {
            0 => s.refund_info()?,
            1 => s.lines()?,
            _ => s.boolean()?,
        }
        args[k] = Some(start..s.out.len());
        s.out.push(',');
        s.ws();
        match s.next()? {
            b',' => continue,
            b'}' => break,
            _ => return None,
        }
    }
    s.ws();
    if s.i != s.b.len() {
        return None;
    }
    let [Some(a), Some(b), Some(c)] = args else {
        return None;
    };
    // Written in the caller's order, each followed by a comma; the body wants them in the API's.
    let body = if a.start == 1 && b.start == a.end + 1 && c.start == b.end + 1 {
        let mut body = s.out;
        body.pop();
        body.push(']');
        body
    } else {
        let o = &s.out;
        let mut body = String::with_capacity(o.len() + 1);
        body.push('[');
        for (i, r) in [a, b, c].into_iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&o[r]);
        }
        body.push(']');
        body
    };
    Some(Prepared {
        method: SMART_REFUND_UPLOAD.to_owned(),
        body,
        pager: None,
    })
}

struct Scan<'a> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
    out: String,
    /// The keys of the objects being read, innermost last, for the repeated-key check.
    keys: Vec<&'a str>,
}

/// What a member of `refundInfo` or of a detail line must be.
#[derive(Clone, Copy)]
enum Rule {
    Text(Text),
    Positive,
}

impl<'a> Scan<'a> {
    /// JSON whitespace, as serde_json reads it.
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn next(&mut self) -> Option<u8> {
        let c = *self.b.get(self.i)?;
        self.i += 1;
        Some(c)
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }

    /// A string token: its text with the quotes, and whether it holds an escape.
    fn string_token(&mut self) -> Option<(&'a str, bool)> {
        let start = self.i;
        self.eat(b'"')?;
        let mut escaped = false;
        loop {
            match self.next()? {
                b'"' => break,
                // The escaped byte is skipped, so `\"` does not end the string; serde_json
                // decodes and checks the escape below.
                b'\\' => {
                    escaped = true;
                    self.next()?;
                }
                // serde_json refuses raw control characters in a string.
                c if c < 0x20 => return None,
                _ => {}
            }
        }
        // Both ends are ASCII quotes, so these are char boundaries.
        Some((&self.text[start..self.i], escaped))
    }

    /// A string value, written to the body as serde_json would print it; returns its content.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let (token, escaped) = self.string_token()?;
        if !escaped {
            // Without escapes (and without control characters, refused above) serde_json
            // prints a string exactly as it was written.
            self.out.push_str(token);
            return Some(Cow::Borrowed(&token[1..token.len() - 1]));
        }
        let decoded: String = serde_json::from_str(token).ok()?;
        self.out.push_str(&serde_json::to_string(&decoded).ok()?);
        Some(Cow::Owned(decoded))
    }

    /// An object key without escapes (anything else goes the slow way).
    fn key(&mut self) -> Option<&'a str> {
        match self.string_token()? {
            (token, false) => Some(&token[1..token.len() - 1]),
            (_, true) => None,
        }
    }

    /// A number as serde_json (arbitrary_precision) keeps and prints it: its text. Exponents are
    /// rewritten by serde_json (`1E2` becomes `1e+2`), so they go the slow way.
    fn number(&mut self) -> Option<&'a str> {
        let start = self.i;
        let digits = |s: &mut Self| {
            let from = s.i;
            while let Some(b'0'..=b'9') = s.b.get(s.i) {
                s.i += 1;
            }
            s.i > from
        };
        if self.b.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        match self.b.get(self.i)? {
            b'0' => self.i += 1,
            b'1'..=b'9' => {
                digits(self);
            }
            _ => return None,
        }
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            if !digits(self) {
                return None;
            }
        }
        if let Some(b'e' | b'E' | b'0'..=b'9') = self.b.get(self.i) {
            return None;
        }
        let text = &self.text[start..self.i];
        self.out.push_str(text);
        Some(text)
    }

    fn literal(&mut self, word: &'static str) -> Option<()> {
        if !self.b[self.i..].starts_with(word.as_bytes()) {
            return None;
        }
        self.i += word.len();
        self.out.push_str(word);
        Some(())
    }

    fn boolean(&mut self) -> Option<()> {
        match self.b.get(self.i)? {
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            _ => None,
        }
    }

    /// Any JSON value, copied compacted.
    fn value(&mut self, depth: usize) -> Option<()> {
        match self.b.get(self.i)? {
            b'{' => self.object(depth, &[]),
            b'[' if depth < MAX_DEPTH => self.array(true, |s| s.value(depth + 1)),
            b'"' => self.string().map(|_| ()),
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            _ => self.number().map(|_| ()),
        }
    }

    /// An object, copied compacted. Members named in `rules` must follow their rule and all be
    /// present; the others may be anything. No key may repeat (serde_json would keep the last
    /// value at the first key's place; the slow path handles that).
    fn object(&mut self, depth: usize, rules: &[(&str, Rule)]) -> Option<()> {
        if depth >= MAX_DEPTH {
            return None;
        }
        self.eat(b'{')?;
        self.out.push('{');
        let first_key = self.keys.len();
        let mut seen = 0usize;
        self.ws();
        if self.b.get(self.i) == Some(&b'}') {
            self.i += 1;
        } else {
            loop {
                self.ws();
                let token_start = self.i;
                let key = self.key()?;
                if self.keys[first_key..].contains(&key) || self.keys.len() - first_key >= MAX_KEYS
                {
                    return None;
                }
                self.keys.push(key);
                self.out.push_str(&self.text[token_start..self.i]);
                self.ws();
                self.eat(b':')?;
                self.out.push(':');
                self.ws();
                match rules.iter().position(|(name, _)| *name == key) {
                    Some(r) => {
                        seen |= 1 << r;
                        match rules[r].1 {
                            Rule::Text(limit) => {
                                if self.b.get(self.i) != Some(&b'"') {
                                    return None;
                                }
                                let s = self.string()?;
                                if !fits(&s, limit) {
                                    return None;
                                }
                            }
                            Rule::Positive => {
                                let n = self.number()?;
                                let v = n.parse::<f64>().ok().filter(|v| v.is_finite())?;
                                if v <= 0.0 {
                                    return None;
                                }
                            }
                        }
                    }
                    None => self.value(depth + 1)?,
                }
                self.ws();
                match self.next()? {
                    b',' => self.out.push(','),
                    b'}' => break,
                    _ => return None,
                }
            }
        }
        self.keys.truncate(first_key);
        self.out.push('}');
        (seen == (1 << rules.len()) - 1).then_some(())
    }

    fn refund_info(&mut self) -> Option<()> {
        self.object(
            1,
            &[
                ("tid", Rule::Text(ID)),
                ("return_warehouse_no", Rule::Text(ID)),
                ("remark", Rule::Text(REMARK)),
            ],
        )
    }

    fn lines(&mut self) -> Option<()> {
        self.array(false, |s| {
            if s.b.get(s.i) != Some(&b'{') {
                return None;
            }
            s.object(
                2,
                &[
                    ("spec_no", Rule::Text(ID)),
                    ("stockin_num", Rule::Positive),
                    ("remark", Rule::Text(REMARK)),
                ],
            )
        })
    }

    /// An array, copied compacted, each item read by `item` (at the item's first byte).
    fn array(
        &mut self,
        empty_ok: bool,
        mut item: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<()> {
        self.eat(b'[')?;
        self.out.push('[');
        self.ws();
        if self.b.get(self.i) == Some(&b']') {
            self.i += 1;
            self.out.push(']');
            return empty_ok.then_some(());
        }
        loop {
            self.ws();
            item(self)?;
            self.ws();
            match self.next()? {
                b',' => self.out.push(','),
                b']' => break,
                _ => return None,
            }
        }
        self.out.push(']');
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{parse_object, smart_refund as slow};
    use super::*;

    /// The one-pass reader's answer, after checking it against the Value path: when it says
    /// yes, the slow path says the same, byte for byte.
    fn fast(text: &str) -> Option<Prepared> {
        let fast = smart_refund(text);
        if let Some(p) = &fast {
            let slow = parse_object(text).and_then(|m| slow(&m));
            assert_eq!(slow.as_ref().ok(), Some(p), "{text}");
        }
        fast
    }

    const GOOD: &str = r#"{"refundInfo":{"tid":"pos-6776312","return_warehouse_no":"pos","remark":"pos refundInfo remark"},"detailMapList":[{"spec_no":"RRWDMS018040S","stockin_num":1,"remark":"POS 退货测试"}],"createPreStockin":false}"#;

    #[test]
    fn valid_quick_returns_are_read_in_one_pass() {
        let p = fast(GOOD).expect("the common request takes the fast path");
        assert_eq!(
            p.body,
            r#"[{"tid":"pos-6776312","return_warehouse_no":"pos","remark":"pos refundInfo remark"},[{"spec_no":"RRWDMS018040S","stockin_num":1,"remark":"POS 退货测试"}],false]"#
        );
        let handled = [
            // Whitespace everywhere, the caller's key order, more lines.
            "\n{ \"createPreStockin\" : true ,\r\n\t\"detailMapList\" : [ { \"remark\" : \"\" , \"stockin_num\" : 0.5 , \"spec_no\" : \"A\" } , {\"spec_no\":\"B\",\"stockin_num\":123456789012345678901234567890,\"remark\":\"x\"} ] , \"refundInfo\" : { \"remark\" : \"\" , \"tid\" : \"t\" , \"return_warehouse_no\" : \"w\" } }\n",
            // Extra members of any shape, kept as written (numbers too).
            r#"{"refundInfo":{"tid":"t","x":{"a":[1,-0,2.50,null,true,{}],"b":[]},"return_warehouse_no":"w","remark":"r","n":-12.0},"detailMapList":[{"spec_no":"s","stockin_num":3,"remark":"","extra":[[[]]]}],"createPreStockin":false}"#,
            // Escapes in values: decoded, checked, printed as serde_json prints them.
            r#"{"refundInfo":{"tid":"\u9000\u8d27-1","return_warehouse_no":"a\"b\\c\/d","remark":"tab\there\nline \ud83d\ude00"},"detailMapList":[{"spec_no":"\u0041","stockin_num":1,"remark":"\u001f"}],"createPreStockin":true}"#,
            // Limits exactly met: 40 and 255 UTF-16 units (an emoji is two).
            &format!(
                r#"{{"refundInfo":{{"tid":"{}","return_warehouse_no":"{}😀","remark":"{}"}},"detailMapList":[{{"spec_no":"s","stockin_num":1,"remark":"r"}}],"createPreStockin":false}}"#,
                "t".repeat(40),
                "w".repeat(38),
                "退".repeat(255)
            ),
        ];
        for text in handled {
            assert!(fast(text).is_some(), "{text}");
        }
    }

    #[test]
    fn everything_else_goes_the_slow_way() {
        let swap = |from: &str, to: &str| GOOD.replacen(from, to, 1);
        let cases = [
            // Invalid: the slow path names the error.
            String::new(),
            "[]".into(),
            swap("}],", "},],"),
            format!("{GOOD} x"),
            format!("{GOOD}{{}}"),
            swap(r#""pos-6776312""#, r#""  ""#),
            swap(r#""pos-6776312""#, &format!("\"{}\"", "t".repeat(41))),
            swap(r#""stockin_num":1"#, r#""stockin_num":0"#),
            swap(r#""stockin_num":1"#, r#""stockin_num":-1"#),
            swap(r#""stockin_num":1"#, r#""stockin_num":"1""#),
            swap(r#""stockin_num":1"#, r#""stockin_num":01"#),
            swap(r#""stockin_num":1"#, r#""stockin_num":1."#),
            swap("false}", r#""false"}"#),
            swap(r#"[{"spec_no""#, r#"[],"x":[{"spec_no""#),
            swap(r#","remark":"pos refundInfo remark""#, ""),
            swap(r#""createPreStockin""#, r#""createPreStockIn""#),
            swap("POS 退货测试", "a\u{1}b"),
            swap("POS 退货测试", r"\ud800"),
            swap("POS 退货测试", r"\x"),
            "\u{feff}".to_owned() + GOOD,
            // Valid, but not this reader's: an exponent (serde_json rewrites it), a repeated
            // key, an escaped key, a repeated argument.
            swap(r#""stockin_num":1"#, r#""stockin_num":1E2"#),
            swap(r#""tid":"pos-6776312""#, r#""tid":"a","tid":"pos-6776312""#),
            swap(r#""tid""#, r#""t\u0069d""#),
            swap(
                r#""createPreStockin":false"#,
                r#""createPreStockin":true,"createPreStockin":false"#,
            ),
        ];
        for text in &cases {
            assert!(fast(text).is_none(), "{text}");
        }
        // The valid ones of those still succeed, the slow way.
        for text in &cases[cases.len() - 4..] {
            assert!(parse_object(text).and_then(|m| slow(&m)).is_ok(), "{text}");
        }
    }

    #[test]
    fn deep_or_wide_extras_go_the_slow_way() {
        let deep = format!("{}1{}", "[".repeat(70), "]".repeat(70));
        let text = GOOD.replacen(r#""tid""#, &format!(r#""x":{deep},"tid""#), 1);
        assert!(fast(&text).is_none());
        assert!(parse_object(&text).and_then(|m| slow(&m)).is_ok());
        let wide: String = (0..40).map(|i| format!(r#""k{i}":{i},"#)).collect();
        let text = GOOD.replacen(r#""tid""#, &format!(r#"{wide}"tid""#), 1);
        assert!(fast(&text).is_none());
        assert!(parse_object(&text).and_then(|m| slow(&m)).is_ok());
    }
}
