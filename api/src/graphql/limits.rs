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
/// What a field costs that may read one VM's backup log or one project's monitors' logs
/// (memoised per request, so only distinct arguments read again): at most 100 such
/// fields in a request.
pub const LOG_READ: usize = 100;
/// What a field costs that may read every visible VM's backup log or every monitor's log
/// (a question about an instant before the catalog's settling): at most 5 in a request.
pub const FLEET_LOG_READ: usize = 2_000;

/// What the checks learnt of a document that passed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The operation's name for metrics: a name the document defines and the request
    /// chose, of at most 64 characters of `[A-Za-z0-9_]`; anything else is `other`.
    pub operation: String,
    pub mutation: bool,
}

/// Why a query document is refused before it is validated, if it is. The document is
/// parsed once here: its fields are counted with every fragment expanded where it is
/// spread (each fragment's count computed once), so neither aliases nor fragments that
/// spread each other twice can make validation or execution cost more than the limit.
pub fn check_document(query: &str, operation_name: Option<&str>) -> Result<Checked, String> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(format!("the query is larger than {} KiB", MAX_QUERY_BYTES / 1024));
    }
    let lexical = scan(query);
    if lexical.deepest > MAX_NESTING {
        return Err(format!("the query nests brackets more than {MAX_NESTING} deep"));
    }
    if lexical.fields > MAX_FIELDS {
        return Err(too_many_fields());
    }
    // A document that does not parse is left to the schema, which names the syntax error.
    let Ok(document) = async_graphql::parser::parse_query(query) else {
        return Ok(Checked { operation: OTHER.into(), mutation: false });
    };
    if expanded_fields(&document)? > MAX_FIELDS {
        return Err(too_many_fields());
    }
    Ok(Checked {
        operation: operation_label(&document, operation_name),
        mutation: is_mutation(&document, operation_name),
    })
}

fn too_many_fields() -> String {
    format!("the query asks for more than {MAX_FIELDS} fields (fragments counted where they are spread)")
}

/// The metric label for documents whose operation has no acceptable name.
const OTHER: &str = "other";

fn operation_label(document: &ExecutableDocument, chosen: Option<&str>) -> String {
    let defined = match &document.operations {
        DocumentOperations::Single(_) => None,
        DocumentOperations::Multiple(ops) => match chosen {
            Some(c) => ops.contains_key(c).then_some(c),
            None if ops.len() == 1 => ops.keys().next().map(|n| n.as_str()),
            None => None,
        },
    };
    match defined {
        Some(n) if n.len() <= 64 && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => n.to_owned(),
        _ => OTHER.to_owned(),
    }
}

fn is_mutation(document: &ExecutableDocument, chosen: Option<&str>) -> bool {
    use async_graphql::parser::types::OperationType;
    match &document.operations {
        DocumentOperations::Single(op) => op.node.ty == OperationType::Mutation,
        DocumentOperations::Multiple(ops) => match chosen.and_then(|name| ops.get(name)) {
            Some(op) => op.node.ty == OperationType::Mutation,
            None => ops.values().any(|op| op.node.ty == OperationType::Mutation),
        },
    }
}

/// The fields the document asks for, with each fragment counted wherever it is spread
/// (saturating, so an exponential document stops at `usize::MAX`). A spread of an unknown
/// fragment counts nothing (validation names it); a cycle or a chain of spreads deeper
/// than [`MAX_RECURSIVE_DEPTH`] is refused here, which also bounds this recursion.
fn expanded_fields(document: &ExecutableDocument) -> Result<usize, String> {
    struct Counter<'a> {
        document: &'a ExecutableDocument,
        memo: std::collections::HashMap<&'a str, usize>,
        path: Vec<&'a str>,
    }
    impl<'a> Counter<'a> {
        fn set(&mut self, set: &'a SelectionSet) -> Result<usize, String> {
            let mut total = 0usize;
            for item in &set.items {
                let n = match &item.node {
                    Selection::Field(f) => 1usize.saturating_add(self.set(&f.node.selection_set.node)?),
                    Selection::InlineFragment(f) => self.set(&f.node.selection_set.node)?,
                    Selection::FragmentSpread(s) => self.fragment(s.node.fragment_name.node.as_str())?,
                };
                total = total.saturating_add(n);
            }
            Ok(total)
        }

        fn fragment(&mut self, name: &'a str) -> Result<usize, String> {
            if let Some(n) = self.memo.get(name) {
                return Ok(*n);
            }
            if self.path.contains(&name) {
                return Err(format!("fragment {name} spreads itself"));
            }
            if self.path.len() >= MAX_RECURSIVE_DEPTH {
                return Err(format!("fragments spread each other more than {MAX_RECURSIVE_DEPTH} deep"));
            }
            let Some((key, fragment)) = self.document.fragments.get_key_value(name) else { return Ok(0) };
            self.path.push(key.as_str());
            let n = self.set(&fragment.node.selection_set.node)?;
            self.path.pop();
            self.memo.insert(key.as_str(), n);
            Ok(n)
        }
    }
    let mut counter = Counter { document, memo: Default::default(), path: vec![] };
    let mut total = 0usize;
    let operations: Vec<&SelectionSet> = match &document.operations {
        DocumentOperations::Single(op) => vec![&op.node.selection_set.node],
        DocumentOperations::Multiple(ops) => ops.values().map(|op| &op.node.selection_set.node).collect(),
    };
    for set in operations {
        total = total.saturating_add(counter.set(set)?);
    }
    // Fragments never spread still cost parsing and validation.
    for (name, fragment) in &document.fragments {
        if !counter.memo.contains_key(name.as_str()) {
            let n = counter.set(&fragment.node.selection_set.node)?;
            total = total.saturating_add(n);
        }
    }
    Ok(total)
}

/// What one pass over the text tells before the document is parsed: the deepest bracket
/// nesting and the fields as written (selections outside arguments, an alias and its field
/// counted once, each fragment once). Parsing costs time in proportion to the text, so a
/// document that is refused anyway is refused from this pass, in microseconds; the count
/// is never above the expanded one, so nothing passes here that the parsed count admits.
#[derive(Debug, PartialEq, Eq)]
struct Lexical {
    deepest: usize,
    fields: usize,
}

fn scan(query: &str) -> Lexical {
    #[derive(PartialEq)]
    enum Before {
        Field,
        Directive,
        Spread,
        TypeCondition,
        Other,
    }
    let bytes = query.as_bytes();
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0usize);
    let (mut selections, mut arguments, mut fields, mut before) = (0usize, 0usize, 0usize, Before::Other);
    let name_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
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
            open @ (b'{' | b'[' | b'(') => {
                depth += 1;
                deepest = deepest.max(depth);
                match open {
                    b'(' => arguments += 1,
                    b'{' if arguments == 0 => selections += 1,
                    _ => {}
                }
                before = Before::Other;
            }
            close @ (b'}' | b']' | b')') => {
                depth = depth.saturating_sub(1);
                match close {
                    b')' => arguments = arguments.saturating_sub(1),
                    b'}' if arguments == 0 => selections = selections.saturating_sub(1),
                    _ => {}
                }
                before = Before::Other;
            }
            b'@' => before = Before::Directive,
            b'.' if bytes[i..].starts_with(b"...") => {
                before = Before::Spread;
                i += 2;
            }
            // An alias: the name before the colon was not a field, the one after it is.
            b':' if arguments == 0 && selections > 0 && before == Before::Field => {
                fields -= 1;
                before = Before::Other;
            }
            b if b.is_ascii_alphabetic() || b == b'_' || b.is_ascii_digit() || b == b'-' => {
                let start = i;
                while i + 1 < bytes.len() && (name_byte(bytes[i + 1]) || bytes[i + 1] == b'.') {
                    i += 1;
                }
                let numeric = b.is_ascii_digit() || b == b'-';
                before = match before {
                    _ if numeric || arguments > 0 || selections == 0 => Before::Other,
                    Before::Directive | Before::TypeCondition => Before::Other,
                    Before::Spread if &bytes[start..=i] == b"on" => Before::TypeCondition,
                    Before::Spread => Before::Other,
                    Before::Field | Before::Other => {
                        fields += 1;
                        Before::Field
                    }
                };
            }
            _ => {}
        }
        i += 1;
    }
    Lexical { deepest, fields }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_counted_as_written_before_parsing() {
        let fields = |q: &str| scan(q).fields;
        assert_eq!(fields("{ a b c }"), 3);
        assert_eq!(fields("{ x: a(y: {z: 1, w: [2, {v: 3}]}) { b } }"), 2, "an alias once, arguments not at all");
        let document = "query Q($v: Int = 1, $o: In = {a: 1}) @d(x: 1) { ...F ... on Query { c } ... @skip(if: $v) { g } } fragment F on Query { d e }";
        assert_eq!(fields(document), 4, "c, g, d, e");
        assert_eq!(fields("{ a @include(if: true) @skip(if: false) { b } }"), 2);
        assert_eq!(fields("{ a(s: \"{ x y }\", t: \"\"\" { \\\"\"\" z } \"\"\") # { w v }\n b }"), 2);
        assert_eq!(fields("{ a(n: -1.5e3) b(n: 2) }"), 2);
        assert_eq!(fields("subscription { __typename }"), 1);
    }

    #[test]
    fn the_count_as_written_is_never_above_the_expanded_one() {
        let documents = [
            "{ a b { c d: e } }".to_owned(),
            "query { ...F ...F } fragment F on Query { a b }".to_owned(),
            "query { ... on Query { a } } fragment Unused on Query { b c }".to_owned(),
            "mutation M($x: Int) { m(x: $x) { id } } query Q { q { id } }".to_owned(),
            (1..=12).map(|i| format!(" fragment F{i} on Query {{ ...F{p} ...F{p} }}", p = i - 1)).collect::<String>()
                + " query { ...F12 } fragment F0 on Query { a }",
            format!("{{{}}}", (0..300).map(|i| format!(" a{i}: f(x: {i}) {{ g h }}")).collect::<String>()),
        ];
        for document in documents {
            let parsed = async_graphql::parser::parse_query(&document).expect("a valid document");
            let (written, expanded) = (scan(&document).fields, expanded_fields(&parsed).unwrap());
            assert!(written <= expanded, "{written} > {expanded}: {document}");
            if !document.contains("...F") {
                assert_eq!(written, expanded, "{document}");
            }
        }
    }

    #[test]
    fn nesting_counts_brackets_outside_strings_and_comments() {
        let nesting = |q: &str| scan(q).deepest;
        assert_eq!(nesting("{ a { b(x: [1, [2]]) } }"), 5);
        assert_eq!(nesting(r#"{ a(s: "{{{[[[") }"#), 2);
        assert_eq!(nesting(r#"{ a(s: "\"{{{") }"#), 2);
        assert_eq!(nesting("{ a # {{{{\n }"), 1);
        assert_eq!(nesting(r#"{ a(s: """ {{{ \""" {{ """) }"#), 2);
    }

    fn refused(query: &str) -> String {
        check_document(query, None).unwrap_err()
    }

    /// `fragment F0 on Query { a }` and each next one spreading the one before `width` times.
    fn chain(depth: usize, width: usize) -> String {
        let mut doc = format!("{{ ...F{depth} }} fragment F0 on Query {{ logHead {{ position }} }}");
        for n in 1..=depth {
            doc.push_str(&format!(" fragment F{n} on Query {{{}}}", format!(" ...F{}", n - 1).repeat(width)));
        }
        doc
    }

    #[test]
    fn documents_are_refused_by_size_nesting_and_fields() {
        assert!(check_document("{ logHead { position } }", None).is_ok());
        assert!(check_document(&format!("{{{}}}", " a".repeat(MAX_FIELDS)), None).is_ok());
        assert!(refused(&format!("{{{}}}", " a".repeat(MAX_FIELDS + 1))).contains("fields"));
        assert!(refused(&format!("{{{}}}", "a,".repeat(MAX_FIELDS + 1))).contains("fields"));
        let deep = format!("{}{}", "{ a ".repeat(MAX_NESTING + 1), "}".repeat(MAX_NESTING + 1));
        assert!(refused(&deep).contains("nests"));
        assert!(refused(&"#".repeat(MAX_QUERY_BYTES + 1)).contains("KiB"));
    }

    #[test]
    fn fragments_count_wherever_they_are_spread() {
        // Spread three times, a fragment of a third of the limit is the whole limit.
        let spread = |n: usize| format!("{{ ...F ...F ...F }} fragment F on Query {{{}}}", " a".repeat(n));
        assert!(check_document(&spread(MAX_FIELDS / 3), None).is_ok());
        assert!(refused(&spread(MAX_FIELDS / 3 + 1)).contains("fields"));
        // Doubling chains: 2^depth fields behind one spread, refused from depth 10 on
        // (2^10 > 1000), however deep, without expanding them; deeper than the recursion
        // limit is refused as such.
        for depth in 1..=60 {
            let doc = chain(depth, 2);
            match depth {
                ..=8 => assert!(check_document(&doc, None).is_ok(), "depth {depth}"),
                9..MAX_RECURSIVE_DEPTH => assert!(refused(&doc).contains("fields"), "depth {depth}"),
                _ => assert!(refused(&doc).contains("deep"), "depth {depth}"),
            }
        }
        // Fan-out through aliases in a fragment spread through aliases.
        let aliases =
            |n: usize, name: &str| (0..n).map(|i| format!(" {name}{i}: logHead {{ position }}")).collect::<String>();
        let fan = format!(
            "{{ a: customers {{ ...G }} b: customers {{ ...G }} }} fragment G on Customer {{ id {} }}",
            aliases(0, "x")
        );
        assert!(check_document(&fan, None).is_ok());
        let wide = format!(
            "{{{} }} fragment G on Query {{{}}}",
            (0..40).map(|i| format!(" q{i}: __typename ...G")).collect::<String>(),
            aliases(30, "h")
        );
        assert!(refused(&wide).contains("fields"), "40 spreads of 60 fields");
        // Nested inline fragments count their fields.
        let inline = format!("{{{}}}", " ... on Query { a b }".repeat(MAX_FIELDS / 2 + 1));
        assert!(refused(&inline).contains("fields"));
        // Cycles are refused before validation.
        assert!(
            refused("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }").contains("spreads itself")
        );
        assert!(refused("{ a } fragment A on Query { ...A }").contains("spreads itself"));
    }

    #[test]
    fn the_metric_label_is_a_defined_operation_name_or_other() {
        let label = |q: &str, name: Option<&str>| check_document(q, name).unwrap().operation;
        assert_eq!(label("query Overview { a }", None), "Overview");
        assert_eq!(label("query Overview { a }", Some("Overview")), "Overview");
        assert_eq!(label("query Overview { a }", Some("Elsewhere")), "other");
        assert_eq!(label("{ a }", Some("Made_Up")), "other");
        assert_eq!(label("query A { a } query B { b }", Some("B")), "B");
        assert_eq!(label("query A { a } query B { b }", None), "other");
        let long = "x".repeat(65);
        assert_eq!(label(&format!("query {long} {{ a }}"), Some(&long)), "other");
        assert_eq!(label(&format!("query {} {{ a }}", "x".repeat(64)), None), "x".repeat(64));
        assert!(check_document("mutation M { a }", None).unwrap().mutation);
        assert!(!check_document("query A { a } mutation B { b }", Some("A")).unwrap().mutation);
    }
}
