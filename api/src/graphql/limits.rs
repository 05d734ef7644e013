//! What one GraphQL request may ask for. The schema enforces depth, complexity, recursion
//! and directives while validating; the document's size, nesting and number of fields are
//! checked here first, because parsing and validating cost time (and parser stack) in
//! proportion to them before any schema limit can look.

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, Selection, SelectionSet};

/// The largest query depth; the standard introspection query needs about 12.
pub const MAX_DEPTH: usize = 15;
/// Paged lists cost their page size times their items' fields (`page_cost` in `query.rs`).
pub const MAX_COMPLEXITY: usize = 10_000;
/// How deep fragments may spread into each other.
pub const MAX_RECURSIVE_DEPTH: usize = 32;
/// Directives on one field.
pub const MAX_DIRECTIVES: usize = 4;
/// The query text; the portal's largest query is a few KiB.
pub const MAX_QUERY_BYTES: usize = 64 * 1024;
/// Brackets (`{`, `[`, `(`) open at once: the parser descends once per bracket.
pub const MAX_NESTING: usize = 64;
/// Fields written in the document (fragments counted once): merging same-named fields
/// is quadratic in their number, and each field may read the store.
pub const MAX_FIELDS: usize = 1_000;

/// Why a query document is refused before it is validated, if it is.
pub fn check_document(query: &str) -> Result<(), String> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(format!("the query is larger than {} KiB", MAX_QUERY_BYTES / 1024));
    }
    if nesting(query) > MAX_NESTING {
        return Err(format!("the query nests brackets more than {MAX_NESTING} deep"));
    }
    // A field takes at least a name and a separator, so a short document cannot hold too
    // many: the common request is not parsed twice.
    if query.len() <= 2 * MAX_FIELDS {
        return Ok(());
    }
    // A document that does not parse is left to the schema, which names the syntax error.
    let Ok(document) = async_graphql::parser::parse_query(query) else { return Ok(()) };
    if fields(&document) > MAX_FIELDS {
        return Err(format!("the query has more than {MAX_FIELDS} fields"));
    }
    Ok(())
}

/// The deepest bracket nesting outside strings and comments.
fn nesting(query: &str) -> usize {
    let bytes = query.as_bytes();
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") { 4 } else { 1 };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    deepest
}

fn fields(document: &ExecutableDocument) -> usize {
    fn count(set: &SelectionSet) -> usize {
        set.items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(f) => 1 + count(&f.node.selection_set.node),
                Selection::InlineFragment(f) => count(&f.node.selection_set.node),
                Selection::FragmentSpread(_) => 0,
            })
            .sum()
    }
    let operations: usize = match &document.operations {
        DocumentOperations::Single(op) => count(&op.node.selection_set.node),
        DocumentOperations::Multiple(ops) => ops.values().map(|op| count(&op.node.selection_set.node)).sum(),
    };
    operations + document.fragments.values().map(|f| count(&f.node.selection_set.node)).sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_counts_brackets_outside_strings_and_comments() {
        assert_eq!(nesting("{ a { b(x: [1, [2]]) } }"), 5);
        assert_eq!(nesting(r#"{ a(s: "{{{[[[") }"#), 2);
        assert_eq!(nesting(r#"{ a(s: "\"{{{") }"#), 2);
        assert_eq!(nesting("{ a # {{{{\n }"), 1);
        assert_eq!(nesting(r#"{ a(s: """ {{{ \""" {{ """) }"#), 2);
    }

    #[test]
    fn documents_are_refused_by_size_nesting_and_fields() {
        assert!(check_document("{ logHead { position } }").is_ok());
        assert!(check_document(&format!("{{{}}}", " a".repeat(MAX_FIELDS))).is_ok());
        assert!(check_document(&format!("{{{}}}", " a".repeat(MAX_FIELDS + 1))).unwrap_err().contains("fields"));
        // The densest spelling of too many fields is longer than the length that skips the count.
        let dense = format!("{{{}}}", "a ".repeat(MAX_FIELDS + 1));
        assert!(dense.len() > 2 * MAX_FIELDS && check_document(&dense).is_err());
        assert!(check_document(&format!("{{{}}}", "a,".repeat(MAX_FIELDS + 1))).is_err());
        let deep = format!("{}{}", "{ a ".repeat(MAX_NESTING + 1), "}".repeat(MAX_NESTING + 1));
        assert!(check_document(&deep).unwrap_err().contains("nests"));
        assert!(check_document(&"#".repeat(MAX_QUERY_BYTES + 1)).unwrap_err().contains("KiB"));
        // Fragments count once, however often they are spread.
        let spread = format!("{{ ...F ...F ...F }} fragment F on Query {{{}}}", " a".repeat(MAX_FIELDS / 2));
        assert!(check_document(&spread).is_ok());
    }
}
