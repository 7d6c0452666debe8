//! Reading OpenClaw's auth-profile documents only to look at them, quickly.
//!
//! [`Lite`] is a JSON value whose strings borrow from the bytes they were parsed from and whose objects are plain
//! lists of members: parsing OpenClaw's 10,000-profile documents into it takes a fraction of the time and
//! allocations of `serde_json::Value` (which, with `preserve_order`, builds an index map and owns every key). The
//! audit's scan reads through it; everything that rewrites a document still uses `Value`, which round-trips.
//!
//! [`Fields`] is what the profile helpers in [`super::auth_profiles`] ask of a profile, answered the same way by a
//! `Value` object and a [`Lite`] one (a repeated member: the last one counts, as in `Value`).

use std::borrow::Cow;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::auth_profiles::SecretRef;

/// A JSON value borrowed from its text.
#[derive(Debug)]
pub enum Lite<'a> {
    /// `null`.
    Null,
    /// `true`/`false`.
    Bool(bool),
    /// A non-negative integer.
    Unsigned(u64),
    /// A negative integer.
    Negative(i64),
    /// Any other number.
    Float(f64),
    /// A string (borrowed unless it held escapes).
    Str(Cow<'a, str>),
    /// An array.
    Array(Vec<Lite<'a>>),
    /// An object, members in document order (repeats kept; [`LiteObject::get`] takes the last).
    Object(LiteObject<'a>),
}

/// An object's members in document order.
#[derive(Debug, Default)]
pub struct LiteObject<'a>(pub Vec<(Cow<'a, str>, Lite<'a>)>);

impl<'a> LiteObject<'a> {
    /// The member named `k` (the last one, when repeated: what `serde_json::Value` keeps).
    pub fn get(&self, k: &str) -> Option<&Lite<'a>> {
        self.0.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v)
    }

    /// Whether any two members share a name.
    pub fn has_repeats(&self) -> bool {
        let mut seen = std::collections::HashSet::with_capacity(self.0.len());
        !self.0.iter().all(|(k, _)| seen.insert(k.as_ref()))
    }
}

impl<'a> Lite<'a> {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Lite::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The object, if this is one.
    pub fn as_object(&self) -> Option<&LiteObject<'a>> {
        match self {
            Lite::Object(o) => Some(o),
            _ => None,
        }
    }

    /// As `serde_json::Value::as_i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Lite::Unsigned(u) => i64::try_from(*u).ok(),
            Lite::Negative(i) => Some(*i),
            _ => None,
        }
    }

    /// As `serde_json::Value::as_u64`.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Lite::Unsigned(u) => Some(*u),
            _ => None,
        }
    }

    /// Parse a whole document.
    pub fn parse(text: &'a [u8]) -> serde_json::Result<Lite<'a>> {
        serde_json::from_slice(text)
    }
}

impl<'de> Deserialize<'de> for Lite<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LiteVisitor)
    }
}

struct LiteVisitor;

impl<'de> Visitor<'de> for LiteVisitor {
    type Value = Lite<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Lite<'de>, E> {
        Ok(Lite::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Lite<'de>, E> {
        Ok(if v >= 0 { Lite::Unsigned(v as u64) } else { Lite::Negative(v) })
    }
    fn visit_u64<E>(self, v: u64) -> Result<Lite<'de>, E> {
        Ok(Lite::Unsigned(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Lite<'de>, E> {
        Ok(Lite::Float(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Lite<'de>, E> {
        Ok(Lite::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Lite<'de>, E> {
        Ok(Lite::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Lite<'de>, E> {
        Ok(Lite::Str(Cow::Owned(v)))
    }
    fn visit_unit<E>(self) -> Result<Lite<'de>, E> {
        Ok(Lite::Null)
    }
    fn visit_none<E>(self) -> Result<Lite<'de>, E> {
        Ok(Lite::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Lite<'de>, D::Error> {
        Lite::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Lite<'de>, A::Error> {
        let mut v = Vec::with_capacity(s.size_hint().unwrap_or(0).min(4096));
        while let Some(x) = s.next_element()? {
            v.push(x);
        }
        Ok(Lite::Array(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Lite<'de>, A::Error> {
        let mut v = Vec::new();
        while let Some(Key(k)) = m.next_key()? {
            v.push((k, m.next_value()?));
        }
        Ok(Lite::Object(LiteObject(v)))
    }
}

/// An object member's name, borrowed when it held no escape.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct K;
        impl<'de> Visitor<'de> for K {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(K)
    }
}

/// What the profile helpers ask of a JSON object.
pub trait Fields {
    /// Whether the member exists (whatever its value).
    fn has(&self, k: &str) -> bool;
    /// The member's string, when it is one.
    fn str_of(&self, k: &str) -> Option<&str>;
    /// The member as `Value::as_i64` reads it.
    fn i64_of(&self, k: &str) -> Option<i64>;
    /// Whether the member is `null`.
    fn is_null(&self, k: &str) -> bool;
    /// The member as a SecretRef: an object with string `source`, `provider` and `id`.
    fn ref_of(&self, k: &str) -> Option<SecretRef>;
}

/// A SecretRef object: string `source`, `provider` and `id`.
pub fn secret_ref<O: Fields + ?Sized>(o: &O) -> Option<SecretRef> {
    Some(SecretRef {
        source: o.str_of("source")?.to_string(),
        provider: o.str_of("provider")?.to_string(),
        id: o.str_of("id")?.to_string(),
    })
}

impl Fields for Map<String, Value> {
    fn has(&self, k: &str) -> bool {
        self.contains_key(k)
    }
    fn str_of(&self, k: &str) -> Option<&str> {
        self.get(k).and_then(Value::as_str)
    }
    fn i64_of(&self, k: &str) -> Option<i64> {
        self.get(k).and_then(Value::as_i64)
    }
    fn is_null(&self, k: &str) -> bool {
        self.get(k).is_some_and(Value::is_null)
    }
    fn ref_of(&self, k: &str) -> Option<SecretRef> {
        self.get(k)?.as_object().and_then(secret_ref)
    }
}

impl Fields for LiteObject<'_> {
    fn has(&self, k: &str) -> bool {
        self.0.iter().any(|(n, _)| n == k)
    }
    fn str_of(&self, k: &str) -> Option<&str> {
        self.get(k).and_then(Lite::as_str)
    }
    fn i64_of(&self, k: &str) -> Option<i64> {
        self.get(k).and_then(Lite::as_i64)
    }
    fn is_null(&self, k: &str) -> bool {
        matches!(self.get(k), Some(Lite::Null))
    }
    fn ref_of(&self, k: &str) -> Option<SecretRef> {
        self.get(k)?.as_object().and_then(secret_ref)
    }
}
