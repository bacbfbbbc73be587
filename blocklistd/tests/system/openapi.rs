//! `docs/openapi.json` against a running daemon: every documented operation
//! and answer status is driven, and every answer is checked against its
//! schema both ways (no field missing, none undocumented).

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::daemon::{polling, Site};
use crate::support::*;

/// The description, with the JSON Schema subset it uses checked here
/// (`$ref`, `oneOf`, `allOf`, `type`, `enum`, `const`, `minimum`,
/// `properties`, `required`, `additionalProperties: false`, `items`,
/// `maxItems`).
struct Spec(Value);

impl Spec {
    fn load() -> Spec {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json");
        Spec(serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap())
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema["$ref"].as_str() {
            Some(reference) => {
                let name = reference
                    .strip_prefix("#/components/schemas/")
                    .unwrap_or_else(|| panic!("unsupported $ref {reference}"));
                self.resolve(&self.0["components"]["schemas"][name])
            }
            None => schema,
        }
    }

    fn check(&self, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
        let schema = self.resolve(schema);
        for part in schema["allOf"].as_array().into_iter().flatten() {
            self.check(part, value, at)?;
        }
        if let Some(choices) = schema["oneOf"].as_array() {
            let matching = choices
                .iter()
                .filter(|choice| self.check(choice, value, at).is_ok())
                .count();
            if matching != 1 {
                return Err(format!("{at}: {value} matches {matching} of oneOf"));
            }
        }
        if let Some(types) = schema.get("type") {
            let types: Vec<&str> = match types {
                Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
                one => vec![one.as_str().unwrap()],
            };
            if !types.iter().any(|t| is_type(t, value)) {
                return Err(format!("{at}: {value} is not of type {types:?}"));
            }
        }
        if let Some(allowed) = schema["enum"].as_array() {
            if !allowed.contains(value) {
                return Err(format!("{at}: {value} is not one of {allowed:?}"));
            }
        }
        if schema.get("const").is_some_and(|c| c != value) {
            return Err(format!("{at}: {value} is not {}", schema["const"]));
        }
        if let (Some(min), Some(n)) = (schema["minimum"].as_i64(), value.as_i64()) {
            if n < min {
                return Err(format!("{at}: {n} < {min}"));
            }
        }
        if let (Some(properties), Value::Object(fields)) = (schema["properties"].as_object(), value)
        {
            for (name, field) in fields {
                match properties.get(name) {
                    Some(property) => self.check(property, field, &format!("{at}.{name}"))?,
                    None if schema["additionalProperties"] == false => {
                        return Err(format!("{at}: field {name:?} is not documented"))
                    }
                    None => {}
                }
            }
            for name in schema["required"].as_array().into_iter().flatten() {
                let name = name.as_str().unwrap();
                if !fields.contains_key(name) {
                    return Err(format!(
                        "{at}: required field {name:?} is missing from {value}"
                    ));
                }
            }
        }
        if let Value::Array(items) = value {
            if let Some(max) = schema["maxItems"].as_u64() {
                if items.len() as u64 > max {
                    return Err(format!("{at}: {} items, at most {max}", items.len()));
                }
            }
            if let Some(item) = schema.get("items") {
                for (i, element) in items.iter().enumerate() {
                    self.check(item, element, &format!("{at}[{i}]"))?;
                }
            }
        }
        Ok(())
    }

    /// Every documented (path, method, status).
    fn answers(&self) -> BTreeSet<(String, String, u16)> {
        let mut all = BTreeSet::new();
        for (path, operations) in self.0["paths"].as_object().unwrap() {
            for (method, operation) in operations.as_object().unwrap() {
                for status in operation["responses"].as_object().unwrap().keys() {
                    all.insert((path.clone(), method.clone(), status.parse().unwrap()));
                }
            }
        }
        all
    }
}

fn is_type(name: &str, value: &Value) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        other => panic!("unsupported type {other}"),
    }
}

/// Sends requests and checks each answer against the description.
struct Driver {
    spec: Spec,
    base: String,
    client: reqwest::blocking::Client,
    driven: BTreeSet<(String, String, u16)>,
}

impl Driver {
    /// `method path` (with its query) and an optional JSON body; the answer
    /// must have `status` and match what the description says of it.
    fn drive(
        &mut self,
        method: &str,
        path_and_query: &str,
        body: Option<String>,
        status: u16,
    ) -> Value {
        let path = path_and_query.split('?').next().unwrap().to_owned();
        let url = format!("{}{path_and_query}", self.base);
        let request = match method {
            "get" => self.client.get(&url),
            "post" => self
                .client
                .post(&url)
                .header("content-type", "application/json")
                .body(body.unwrap_or_default()),
            other => panic!("{other}"),
        };
        let response = request.send().unwrap();
        assert_eq!(
            response.status().as_u16(),
            status,
            "{method} {path_and_query}"
        );
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let text = response.text().unwrap();
        let documented = &self.spec.0["paths"][&path][method]["responses"][status.to_string()];
        assert!(
            documented.is_object(),
            "{method} {path} answered {status}, which docs/openapi.json does not document"
        );
        let (media, content) = documented["content"]
            .as_object()
            .and_then(|c| c.iter().next())
            .unwrap();
        assert!(
            content_type.starts_with(media.as_str()),
            "{method} {path_and_query}: {content_type}"
        );
        self.driven
            .insert((path.clone(), method.to_owned(), status));
        if media != "application/json" {
            return Value::String(text);
        }
        let value: Value = serde_json::from_str(&text).unwrap();
        if let Err(e) = self.spec.check(&content["schema"], &value, "body") {
            panic!("{method} {path_and_query} ({status}): {e}");
        }
        value
    }
}

#[test]
fn every_operation_of_the_openapi_description_answers_as_documented() {
    let spec = Spec::load();
    let centre = Centre::new();
    let site = Site::new();
    let server = Server::start(&centre.dir);
    let config = polling(&centre.first_root(), &[&server.url])
        + "[api]\nlisten = \"127.0.0.1:0\"\nmax_batch = 3\nmax_body_size = \"1 KiB\"\n";
    let daemon = site.start(&config);
    let mut driver = Driver {
        spec,
        base: daemon.url.clone(),
        client: reqwest::blocking::Client::new(),
        driven: BTreeSet::new(),
    };
    // Before any version: no data.
    driver.drive("get", "/healthz", None, 503);
    driver.drive("get", "/v1/check?kind=number&value=0812345678", None, 503);
    driver.drive(
        "post",
        "/v1/check",
        Some(json!({"kind": "number", "values": ["0812345678"]}).to_string()),
        503,
    );
    driver.drive("get", "/v1/history?kind=number&value=0812345678", None, 503);
    driver.drive("get", "/v1/status", None, 200);

    let input = centre.input(
        "reports.csv",
        b"kind,value,reason,expires\nnumber,081-234-5678,scam_call,90d\ndomain,scam.example,phishing,\naccount,004 1234567890,mule_account,\n",
    );
    ok(&centre.publish_args(&["--agency", "th-aoc", s(&input)]));
    daemon.wait_version(1);

    let listed = driver.drive("get", "/v1/check?kind=number&value=081-234-5678", None, 200);
    assert_eq!(
        (listed["listed"].as_bool(), listed["reason"].as_str()),
        (Some(true), Some("scam_call"))
    );
    assert!(listed["expires_at"].is_u64());
    let parent = driver.drive(
        "get",
        "/v1/check?kind=url&value=https://login.scam.example/x",
        None,
        200,
    );
    assert_eq!(parent["matched"], "scam.example");
    driver.drive(
        "get",
        "/v1/check?kind=account&value=004%201234567890",
        None,
        200,
    );
    let miss = driver.drive("get", "/v1/check?kind=domain&value=example.org", None, 200);
    assert_eq!(miss["listed"], false);
    driver.drive("get", "/v1/check?kind=number&value=12", None, 400);
    driver.drive("get", "/v1/check?kind=colour&value=red", None, 400);
    driver.drive("get", "/v1/check?kind=number", None, 400);
    let history = driver.drive(
        "get",
        "/v1/history?kind=number&value=081-234-5678",
        None,
        200,
    );
    assert_eq!(history["listings"][0]["agency"], "th-aoc");
    assert_eq!(history["overrides"], json!([]));
    driver.drive("get", "/v1/history?kind=url&value=x", None, 400);

    let batch = driver.drive(
        "post",
        "/v1/check",
        Some(
            json!({"kind": "number", "values": ["0812345678", "0899999999", "not a number"]})
                .to_string(),
        ),
        200,
    );
    assert_eq!(batch["results"][2]["error"]["code"], "invalid_identifier");
    driver.drive(
        "post",
        "/v1/check",
        Some(json!({"items": [{"kind": "domain", "value": "www.scam.example"}, {"kind": "url", "value": "https://ok.example"}]}).to_string()),
        200,
    );
    driver.drive("post", "/v1/check", Some("{\"kind\": ".into()), 400);
    driver.drive(
        "post",
        "/v1/check",
        Some(json!({"kind": "number", "values": ["1", "2", "3", "4"]}).to_string()),
        413,
    );
    driver.drive(
        "post",
        "/v1/check",
        Some(format!(
            "{{\"kind\":\"number\",\"values\":[\"{}\"]}}",
            "9".repeat(2000)
        )),
        413,
    );

    driver.drive("get", "/v1/status", None, 200);
    driver.drive("get", "/healthz", None, 200);
    let metrics = driver.drive("get", "/metrics", None, 200);
    assert!(metrics.as_str().unwrap().contains("blocklistd_entries 3"));

    let undriven: Vec<_> = driver
        .spec
        .answers()
        .difference(&driver.driven)
        .cloned()
        .collect();
    assert!(
        undriven.is_empty(),
        "documented but never driven: {undriven:?}"
    );
}
