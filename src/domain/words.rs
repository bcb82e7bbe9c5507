//! States stored as a word in a TEXT column. `stored_word!` gives each the word it is stored as,
//! `parse`, and a strict `TryFrom<String>` for `#[sqlx(try_from = "String")]`: a word the shop
//! never writes is an error when the row is read, never a quiet default.

macro_rules! stored_word {
    ($(#[$doc:meta])* pub enum $name:ident { $($(#[$vdoc:meta])* $variant:ident => $word:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word),+
                }
            }

            pub fn parse(value: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|s| s.as_str() == value)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// As the word it is stored as (audit entries, exports).
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::domain::words::UnknownWord;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                $name::parse(&value)
                    .ok_or_else(|| $crate::domain::words::UnknownWord(format!("{} {value:?} is not a stored word", stringify!($name))))
            }
        }
    };
}

/// A word read from the database that its type never writes; says which type and word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownWord(pub String);

impl std::fmt::Display for UnknownWord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UnknownWord {}

pub(crate) use stored_word;

#[cfg(test)]
mod tests {
    stored_word! {
        pub enum Light { Red => "red", Green => "green" }
    }

    #[test]
    fn words_round_trip_and_unknown_words_are_refused() {
        for light in Light::ALL {
            assert_eq!(Light::try_from(light.as_str().to_string()), Ok(*light));
        }
        assert_eq!(Light::Green.to_string(), "green");
        assert!(Light::try_from("amber".to_string()).unwrap_err().to_string().contains("amber"));
        assert_eq!(Light::parse(""), None);
    }
}
