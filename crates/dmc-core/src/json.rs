//! JSON as lncli prints it: Go protojson with four-space indentation,
//! proto field names, int64 as strings and floats in Go's shortest form.

use std::fmt::Write;

/// A JSON value with field order kept and numbers pre-rendered.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    /// Fields in the order they print (protojson uses proto field order).
    Object(Vec<(String, Json)>),
    /// Elements in order.
    Array(Vec<Json>),
    /// Text, escaped when written.
    String(String),
    /// A number or literal, already rendered.
    Raw(String),
}

impl Json {
    /// An object from `(name, value)` fields, order kept.
    pub fn object<K: Into<String>>(fields: impl IntoIterator<Item = (K, Json)>) -> Json {
        Json::Object(fields.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// A string field.
    pub fn str(s: impl Into<String>) -> Json {
        Json::String(s.into())
    }

    /// An int64/uint64 field: protojson prints these as strings.
    pub fn int64(v: impl ToString) -> Json {
        Json::String(v.to_string())
    }

    /// An int32/uint32 field: a plain number.
    pub fn int32(v: impl ToString) -> Json {
        Json::Raw(v.to_string())
    }

    /// A `double` field in Go's shortest round-trip form; see
    /// [`format_go_float`].
    pub fn double(v: f64) -> Json {
        Json::Raw(format_go_float(v, false))
    }

    /// A `float` field: the shortest digits that round-trip as `f32`, as
    /// protojson prints proto `float`s.
    pub fn float32(v: f32) -> Json {
        Json::Raw(format_go_float(v as f64, true))
    }

    /// A `bool` field: `true` or `false`.
    pub fn bool(v: bool) -> Json {
        Json::Raw(v.to_string())
    }

    /// Multi-line, four-space indent, as lncli prints.
    pub fn pretty(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0, true);
        out
    }

    /// One line, for JSON-lines output.
    pub fn compact(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0, false);
        out
    }

    fn write(&self, out: &mut String, depth: usize, pretty: bool) {
        let nl = |out: &mut String, d: usize| {
            if pretty {
                out.push('\n');
                (0..d).for_each(|_| out.push_str("    "));
            }
        };
        match self {
            Json::Raw(s) => out.push_str(s),
            Json::String(s) => write_string(out, s),
            Json::Array(items) if items.is_empty() => out.push_str("[]"),
            Json::Object(items) if items.is_empty() => out.push_str("{}"),
            Json::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    nl(out, depth + 1);
                    v.write(out, depth + 1, pretty);
                }
                nl(out, depth);
                out.push(']');
            }
            Json::Object(items) => {
                out.push('{');
                for (i, (k, v)) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    nl(out, depth + 1);
                    write_string(out, k);
                    out.push_str(if pretty { ": " } else { ":" });
                    v.write(out, depth + 1, pretty);
                }
                nl(out, depth);
                out.push('}');
            }
        }
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Go protojson's float rendering: shortest round-trip digits, fixed
/// notation for 1e-6 ≤ |x| < 1e21, exponent notation (`1e-07` trimmed to
/// `1e-7`, `1e+21`) otherwise; NaN and infinities as strings.
pub fn format_go_float(v: f64, is_f32: bool) -> String {
    if v.is_nan() {
        return "\"NaN\"".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "\"Infinity\"" } else { "\"-Infinity\"" }.into();
    }
    let abs = v.abs();
    let exponent_form = abs != 0.0 && !(1e-6..1e21).contains(&abs);
    let s = match (is_f32, exponent_form) {
        (false, false) => format!("{v}"),
        (true, false) => format!("{}", v as f32),
        (false, true) => format!("{v:e}"),
        (true, true) => format!("{:e}", v as f32),
    };
    if !exponent_form {
        return s;
    }
    // Rust prints `1e-7` / `1e21`; Go prints `1e-07` (then trims the
    // single-digit zero) and `1e+21`.
    match s.split_once('e') {
        Some((mant, exp)) if !exp.starts_with('-') => format!("{mant}e+{exp:0>2}"),
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_as_go_prints_them() {
        assert_eq!(format_go_float(1.0, false), "1");
        assert_eq!(format_go_float(0.9025, false), "0.9025");
        assert_eq!(format_go_float(0.5699999999999985, false), "0.5699999999999985");
        assert_eq!(format_go_float(0.0, false), "0");
        assert_eq!(format_go_float(1e-7, false), "1e-7");
        assert_eq!(format_go_float(1.5e-10, false), "1.5e-10");
        assert_eq!(format_go_float(1e21, false), "1e+21");
        assert_eq!(format_go_float(1e-6, false), "0.000001");
        assert_eq!(format_go_float(0.6f32 as f64, true), "0.6");
        assert_eq!(format_go_float(f64::NAN, false), "\"NaN\"");
    }

    #[test]
    fn pretty_layout() {
        let j = Json::object([
            ("pairs", Json::Array(vec![])),
            ("x", Json::object([("a", Json::int64(5u64))])),
        ]);
        assert_eq!(
            j.pretty(),
            "{\n    \"pairs\": [],\n    \"x\": {\n        \"a\": \"5\"\n    }\n}"
        );
        assert_eq!(j.compact(), "{\"pairs\":[],\"x\":{\"a\":\"5\"}}");
    }
}
