//! A minimal JSON object writer: keys in the order written, absent optionals omitted.
//!
//! Vendors send their fields in a fixed order and leave out what they do not know; writing
//! directly (rather than through a map) keeps both, and keeps invex-sim free of a JSON
//! dependency. Strings are escaped per RFC 8259. Floats are never written as JSON numbers
//! by this writer: callers send decimal text they formed exactly.

use std::fmt::Write as _;

/// An open JSON object being written into a string.
pub(crate) struct Obj<'a> {
    out: &'a mut String,
    empty: bool,
}

/// Renders one object.
pub(crate) fn object(build: impl FnOnce(&mut Obj<'_>)) -> String {
    let mut out = String::with_capacity(512);
    write_object(&mut out, build);
    out
}

fn write_object(out: &mut String, build: impl FnOnce(&mut Obj<'_>)) {
    out.push('{');
    build(&mut Obj { out: &mut *out, empty: true });
    out.push('}');
}

/// Writes `text` as a JSON string literal.
fn string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl Obj<'_> {
    fn key(&mut self, key: &str) -> &mut String {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        string(self.out, key);
        self.out.push(':');
        self.out
    }

    /// A string member.
    pub(crate) fn str(&mut self, key: &str, value: &str) -> &mut Self {
        string(self.key(key), value);
        self
    }

    /// A string member, omitted when `None`.
    pub(crate) fn opt_str(&mut self, key: &str, value: Option<&str>) -> &mut Self {
        if let Some(value) = value {
            self.str(key, value);
        }
        self
    }

    /// An integer member.
    pub(crate) fn int(&mut self, key: &str, value: i64) -> &mut Self {
        let _ = write!(self.key(key), "{value}");
        self
    }

    /// An integer member, omitted when `None`.
    pub(crate) fn opt_int(&mut self, key: &str, value: Option<i64>) -> &mut Self {
        if let Some(value) = value {
            self.int(key, value);
        }
        self
    }

    /// A member whose value is a JSON number token the caller has formed.
    pub(crate) fn number_text(&mut self, key: &str, token: &str) -> &mut Self {
        self.key(key).push_str(token);
        self
    }

    /// A boolean member.
    pub(crate) fn bool(&mut self, key: &str, value: bool) -> &mut Self {
        self.key(key).push_str(if value { "true" } else { "false" });
        self
    }

    /// A nested object member.
    pub(crate) fn obj(&mut self, key: &str, build: impl FnOnce(&mut Obj<'_>)) -> &mut Self {
        write_object(self.key(key), build);
        self
    }

    /// An array of strings.
    pub(crate) fn strs(&mut self, key: &str, values: &[String]) -> &mut Self {
        let out = self.key(key);
        out.push('[');
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            string(out, value);
        }
        out.push(']');
        self
    }

    /// An array of objects, one per item.
    pub(crate) fn objs<T>(
        &mut self,
        key: &str,
        items: &[T],
        build: impl Fn(&mut Obj<'_>, &T),
    ) -> &mut Self {
        let out = self.key(key);
        out.push('[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_object(out, |o| build(o, item));
        }
        out.push(']');
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_members_in_order_and_escapes_strings() {
        let text = object(|o| {
            o.str("a", "q\"\\\n\u{1}é").int("b", -3).opt_str("skip", None);
            o.bool("d", true).number_text("e", "1.50");
            o.obj("f", |f| {
                f.strs("g", &["x".into(), "y".into()]);
            });
            o.objs("h", &[1, 2], |o, n| {
                o.int("n", *n);
            });
        });
        assert_eq!(
            text,
            concat!(
                r#"{"a":"q\"\\\n\u0001é","b":-3,"d":true,"e":1.50,"#,
                r#""f":{"g":["x","y"]},"h":[{"n":1},{"n":2}]}"#
            )
        );
    }
}
