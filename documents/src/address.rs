//! A customer's free-text billing address read as street, postcode and city, for the
//! documents that want them apart (XRechnung, the DATEV master data).

/// An address apart.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Address {
    /// The lines before the postcode and city, joined by `, `.
    pub street: String,
    pub postcode: Option<String>,
    pub city: String,
}

impl Address {
    /// The last line that starts with a postcode ("10115 Berlin", "1012 LG Amsterdam")
    /// gives postcode and city, the lines before it the street, and a line after it (a
    /// country's name) is left to the country code. Without such a line, the last line is
    /// the city.
    pub fn parse(text: &str) -> Address {
        let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        let found = lines.iter().enumerate().rev().find_map(|(i, l)| postcode_and_city(l).map(|p| (i, p)));
        match (found, lines.split_last()) {
            (Some((i, (postcode, city))), _) => {
                Address { street: lines[..i].join(", "), postcode: Some(postcode), city }
            }
            (None, Some((last, before))) => {
                Address { street: before.join(", "), postcode: None, city: (*last).to_owned() }
            }
            (None, None) => Address::default(),
        }
    }
}

fn postcode_and_city(line: &str) -> Option<(String, String)> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let code =
        |w: &str| w.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') && w.chars().any(|c| c.is_ascii_digit());
    match words.as_slice() {
        // Dutch postcodes: four digits, a space, two capitals.
        [digits, letters, city @ ..]
            if !city.is_empty()
                && digits.len() == 4
                && digits.chars().all(|c| c.is_ascii_digit())
                && letters.len() == 2
                && letters.chars().all(|c| c.is_ascii_uppercase()) =>
        {
            Some((format!("{digits} {letters}"), city.join(" ")))
        }
        [first, city @ ..] if !city.is_empty() && code(first) => Some(((*first).to_owned(), city.join(" "))),
        // American ZIP codes come last: "San Francisco, CA 94105".
        [city @ .., zip]
            if !city.is_empty() && zip.len() >= 5 && zip.chars().all(|c| c.is_ascii_digit() || c == '-') =>
        {
            Some(((*zip).to_owned(), city.join(" ")))
        }
        _ => None,
    }
}
