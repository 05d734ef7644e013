//! XML-RPC in and out, with dxr. A body is refused before it is parsed when it is not
//! UTF-8, declares a DTD or entities (XML-RPC needs none; so nothing can expand), or nests
//! deeper than any real call: a parser's recursion stays bounded whatever a node sends.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use dxr::{Fault, FaultResponse, MethodCall, MethodResponse, Value};

/// Deeper than any call the agents make (a struct of structs of lists is about 12).
const MAX_DEPTH: usize = 64;

/// Fault codes, by what the caller can do about them.
pub const BAD_REQUEST: i32 = 400;
pub const FORBIDDEN: i32 = 403;
pub const NOT_FOUND: i32 = 404;
pub const UNKNOWN_METHOD: i32 = 405;
pub const UNAVAILABLE: i32 = 503;

pub fn fault(code: i32, message: impl Into<String>) -> Fault {
    Fault::new(code, message.into())
}

/// The method name and parameters of a call, or a fault that says what is wrong.
pub fn call(body: &[u8]) -> Result<(String, Vec<Value>), Fault> {
    let text = std::str::from_utf8(body).map_err(|_| fault(BAD_REQUEST, "the body is not UTF-8 XML"))?;
    if text.contains("<!") && (text.contains("<!DOCTYPE") || text.contains("<!ENTITY")) {
        return Err(fault(BAD_REQUEST, "document type declarations and entities are not accepted"));
    }
    if depth(text) > MAX_DEPTH {
        return Err(fault(BAD_REQUEST, format!("the call nests deeper than {MAX_DEPTH} elements")));
    }
    // dxr's own error repeats the whole body: say what is wrong instead.
    let call = MethodCall::from_xml(text).map_err(|_| fault(BAD_REQUEST, "not an XML-RPC methodCall"))?;
    Ok((call.name.into_owned(), call.params))
}

/// The deepest nesting of elements, counted lexically (`<x>` opens, `</x>` and `<x/>` close).
fn depth(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let bytes = text.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b != b'<' {
            continue;
        }
        match bytes.get(i + 1) {
            Some(b'/') => depth = depth.saturating_sub(1),
            Some(b'?' | b'!') => {}
            _ => {
                let end = text[i..].find('>').map_or(text.len(), |e| i + e);
                if !text[..end].ends_with('/') {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
            }
        }
    }
    deepest
}

/// The answer as XML-RPC: a value, or a fault (both HTTP 200, as XML-RPC has it).
pub fn respond(answer: Result<Value, Fault>) -> Response {
    let xml = match answer {
        Ok(value) => MethodResponse { value }.to_xml(),
        Err(fault) => FaultResponse { fault }.to_xml(),
    };
    match xml {
        Ok(xml) => (StatusCode::OK, [(header::CONTENT_TYPE, "text/xml; charset=utf-8")], xml).into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "the answer could not be written\n").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_open_elements_and_skips_declarations() {
        assert_eq!(depth("<?xml version=\"1.0\"?><a><b/><c><d></d></c></a>"), 3);
        let deep = format!("{}{}", "<value><array><data>".repeat(30), "</data></array></value>".repeat(30));
        assert_eq!(depth(&deep), 90);
        assert!(call(deep.as_bytes()).unwrap_err().string().contains("deeper"));
    }

    #[test]
    fn hostile_or_broken_bodies_are_faults_that_say_why() {
        let laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><methodCall><methodName>&lol2;</methodName></methodCall>"#;
        assert!(call(laughs.as_bytes()).unwrap_err().string().contains("entities"));
        assert_eq!(call(&[0xff, 0xfe]).unwrap_err().code(), BAD_REQUEST);
        let broken = call(b"<methodCall><methodName>x</methodName>").unwrap_err();
        assert_eq!(broken.string(), "not an XML-RPC methodCall", "the body is not echoed");
        let ok = call(b"<?xml version='1.0'?><methodCall><methodName>lookup_node</methodName><params><param><value><string>web01</string></value></param></params></methodCall>").unwrap();
        assert_eq!(ok, ("lookup_node".to_owned(), vec![Value::String("web01".into())]));
    }
}
