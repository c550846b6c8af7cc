//! Named choices: closed sets of values (a backend, a quadrature rule, a sampling protocol …),
//! each with one stable lowercase name used on the command line, in file formats and in
//! messages.
//!
//! A type lists its values once ([`Choice::choices`]); parsing, the list of names in help and
//! the "unknown … ; choose one of …" message all come from that list.

use crate::error::{Error, Result};

/// A closed set of values with stable names.
pub trait Choice: Sized + Clone + Send + Sync + 'static {
    /// What is being chosen, as messages name it (`"backend"`).
    const WHAT: &'static str;

    /// Every value, in the order help lists them.
    fn choices() -> Vec<Self>;

    /// The value's stable name.
    fn label(&self) -> &'static str;

    /// Every value's name.
    fn labels() -> Vec<&'static str> {
        Self::choices().iter().map(Self::label).collect()
    }

    /// The value called `name`.
    ///
    /// # Errors
    /// [`Error::UnknownName`] listing every name.
    fn from_label(name: &str) -> Result<Self> {
        Self::choices()
            .into_iter()
            .find(|c| c.label() == name)
            .ok_or_else(|| Error::UnknownName {
                what: Self::WHAT,
                got: name.to_string(),
                choices: Self::labels(),
            })
    }
}

/// Implement [`Choice`], `FromStr` and `Display` for a type with an inherent `ALL` constant and
/// `name(self) -> &'static str` (`@parse`: no `Display`; `@choice`: only [`Choice`]).
#[macro_export]
#[doc(hidden)]
macro_rules! named_choice {
    ($ty:ty, $what:literal) => {
        $crate::named_choice!(@parse $ty, $what);
        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
    (@parse $ty:ty, $what:literal) => {
        $crate::named_choice!(@choice $ty, $what);
        impl ::std::str::FromStr for $ty {
            type Err = $crate::Error;
            fn from_str(s: &str) -> $crate::Result<Self> {
                <$ty as $crate::choice::Choice>::from_label(s)
            }
        }
    };
    (@choice $ty:ty, $what:literal) => {
        impl $crate::choice::Choice for $ty {
            const WHAT: &'static str = $what;
            fn choices() -> Vec<Self> {
                <$ty>::ALL.to_vec()
            }
            fn label(&self) -> &'static str {
                self.name()
            }
        }
    };
}

/// Serde as the name, for `#[serde(with = "crate::choice::by_name")]`.
pub mod by_name {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Choice;

    /// Write the value's name.
    pub fn serialize<T: Choice, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(value.label())
    }

    /// Read a name.
    pub fn deserialize<'de, T: Choice, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        let name = String::deserialize(d)?;
        T::from_label(&name).map_err(serde::de::Error::custom)
    }
}

// The kernels' choices (their types live in the kernels crate, which knows no error type).
named_choice!(@choice aumann_kernels::closed_form::Analytic, "indicator");
named_choice!(@choice aumann_kernels::quadrature::Rule, "rule");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Backend;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_choices() {
        for b in Backend::choices() {
            assert_eq!(Backend::from_label(b.label()).unwrap(), b);
        }
        let e = Backend::from_label("cuda").unwrap_err().to_string();
        assert_eq!(
            e,
            "unknown backend 'cuda'; choose one of flex, ndarray, wgpu"
        );
    }
}
