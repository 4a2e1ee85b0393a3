//! JSON pointers (RFC 6901), compiled once, with an element scope.
//!
//! A pointer starting with `/` is absolute: it is resolved from the document root, exactly
//! as RFC 6901 says. A pointer starting with `@` is relative to the current array element
//! (JSONPath's `@`): inside an `each` rule or a kind that splits a document into lines, `@`
//! is the innermost element and `@/sku` a member of it. Tokens are unescaped (`~1` is `/`,
//! `~0` is `~`) and array indices parsed when the pointer is compiled, so resolving one on
//! the hot path is a walk with no allocation. A pointer that runs into a missing member, an
//! index out of bounds or a scalar resolves to nothing: absence is for the caller to judge.

use serde_json::Value;

/// A compiled JSON pointer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pointer {
    relative: bool,
    tokens: Vec<Token>,
    text: String,
}

#[derive(Debug, Clone, PartialEq)]
struct Token {
    key: String,
    index: Option<usize>,
}

impl Pointer {
    /// Compiles `/a/b`, `@`, `@/a` or `` (the whole document).
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let (relative, rest) = match text.strip_prefix('@') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if !rest.is_empty() && !rest.starts_with('/') {
            return Err(format!(
                "{text:?} is not a JSON pointer: start with `/` (from the document root) or \
                 `@/` (from the current array element)"
            ));
        }
        let tokens = rest.split('/').skip(1).map(token).collect::<Result<_, _>>()?;
        Ok(Self { relative, tokens, text: text.to_owned() })
    }

    /// True for `@` pointers, which need an element scope.
    pub(crate) fn is_relative(&self) -> bool {
        self.relative
    }

    /// The pointer as written in the source file.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// The value the pointer designates, if any.
    pub(crate) fn resolve<'v>(
        &self,
        root: &'v Value,
        scope: Option<&Scope<'v>>,
    ) -> Option<&'v Value> {
        let start = if self.relative { scope?.value } else { root };
        self.tokens.iter().try_fold(start, |value, token| match value {
            Value::Object(map) => map.get(&token.key),
            Value::Array(items) => items.get(token.index?),
            _ => None,
        })
    }

    /// The concrete pointer of what this one designates in `scope` (for error messages):
    /// `@/qty` inside the third element of `/lines` is `/lines/2/qty`.
    pub(crate) fn concrete(&self, scope: Option<&Scope<'_>>) -> String {
        let mut out = match (self.relative, scope) {
            (true, Some(scope)) => scope.concrete(),
            _ => String::new(),
        };
        let rest = self.text.strip_prefix('@').unwrap_or(&self.text);
        out.push_str(rest);
        out
    }
}

fn token(raw: &str) -> Result<Token, String> {
    let mut key = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '~' {
            key.push(c);
            continue;
        }
        match chars.next() {
            Some('0') => key.push('~'),
            Some('1') => key.push('/'),
            _ => return Err(format!("bad escape in pointer token {raw:?}: use ~0 or ~1")),
        }
    }
    let index = match key.as_bytes() {
        [b'0'] => Some(0),
        [b'1'..=b'9', rest @ ..] if rest.iter().all(u8::is_ascii_digit) => key.parse().ok(),
        _ => None,
    };
    Ok(Token { key, index })
}

/// The array element a relative pointer starts from, and where it sits in the document.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scope<'v> {
    /// The element.
    pub(crate) value: &'v Value,
    parent: Option<&'v Scope<'v>>,
    array: &'v Pointer,
    index: usize,
}

impl<'v> Scope<'v> {
    /// The `index`-th element `value` of the array `array` designates (itself resolved in
    /// `parent` when relative).
    pub(crate) fn new(
        value: &'v Value,
        parent: Option<&'v Scope<'v>>,
        array: &'v Pointer,
        index: usize,
    ) -> Self {
        Self { value, parent, array, index }
    }

    fn concrete(&self) -> String {
        let mut out = self.array.concrete(self.parent);
        out.push('/');
        out.push_str(&self.index.to_string());
        out
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn resolves_absolute_relative_escaped_and_indexed_tokens() {
        let doc = json!({"a": {"b/c": [10, {"~x": 7}]}, "lines": [{"q": 1}, {"q": 2}]});
        let p = |t: &str| Pointer::parse(t).unwrap();
        assert_eq!(p("/a/b~1c/0").resolve(&doc, None), Some(&json!(10)));
        assert_eq!(p("/a/b~1c/1/~0x").resolve(&doc, None), Some(&json!(7)));
        assert_eq!(p("").resolve(&doc, None), Some(&doc));
        assert_eq!(p("/a/b~1c/01").resolve(&doc, None), None);
        assert_eq!(p("/a/b~1c/-").resolve(&doc, None), None);
        assert_eq!(p("/a/b~1c/0/deeper").resolve(&doc, None), None);
        assert_eq!(p("@/q").resolve(&doc, None), None);
        let lines = p("/lines");
        let scope = Scope::new(&doc["lines"][1], None, &lines, 1);
        assert_eq!(p("@/q").resolve(&doc, Some(&scope)), Some(&json!(2)));
        assert_eq!(p("@").resolve(&doc, Some(&scope)), Some(&json!({"q": 2})));
        assert_eq!(p("@/q").concrete(Some(&scope)), "/lines/1/q");
        let serials = p("@/serials");
        let inner = Scope::new(&doc, Some(&scope), &serials, 3);
        assert_eq!(p("@").concrete(Some(&inner)), "/lines/1/serials/3");
    }

    #[test]
    fn rejects_what_is_not_a_pointer() {
        for bad in ["a/b", "@a", "/a~2", "/a~", "$.a"] {
            assert!(Pointer::parse(bad).is_err(), "{bad}");
        }
    }
}
