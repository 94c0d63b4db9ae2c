//! The OpenAPI document at `/api/schema/` against independent tools: openapi-spec-validator says it
//! is valid OpenAPI 3.1, and Schemathesis fuzzes a live server from it (as an admin, the token
//! fetched again whenever a fuzzed call ends its session) and finds no 5xx, no undocumented status
//! code, no body, header or content type that contradicts the document, and no operation that
//! declares authentication but serves without it.

use std::path::Path;
use std::process::Command;

use tessera_store::testing::python_with;

use super::support::{Server, add_user_at, http};

const ROOT_PASSWORD: &str = "schemathesis-root-pw";

#[test]
fn the_document_is_valid_openapi_and_the_server_conforms_to_it() {
    let Some(python) = python_with(&["openapi_spec_validator", "schemathesis"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").display().to_string();
    add_user_at(
        &["--data-dir", &data, "--role", "admin"],
        "root",
        &format!(
            "{ROOT_PASSWORD}
"
        ),
    );
    let server = Server::start(
        &["--data-dir", &data],
        &[("TESSERA_ACCESS_TOKEN_LIFETIME", "1h".to_owned())],
    );
    let (status, document) = http(&server.addr, "GET", "/api/schema/", None, None);
    assert_eq!(status, 200);
    assert_eq!(document["openapi"], "3.1.0");
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, document.to_string()).unwrap();

    let validated = Command::new(&python)
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        validated.status.success(),
        "openapi-spec-validator: {}{}",
        String::from_utf8_lossy(&validated.stdout),
        String::from_utf8_lossy(&validated.stderr)
    );

    let hooks = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it");
    let url = format!("http://{}", server.addr);
    let fuzzed = Command::new(&python)
        .args(["-c", "import sys; from schemathesis.cli import schemathesis; sys.argv[0] = 'schemathesis'; sys.exit(schemathesis())"])
        .args(["run", &format!("{url}/api/schema/")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_headers_conformance,response_schema_conformance,ignored_auth",
            "--max-examples",
            "25",
            "--seed",
            "20261202",
            "--workers",
            "2",
        ])
        .env("SCHEMATHESIS_HOOKS", "schemathesis_hooks")
        .env("PYTHONPATH", &hooks)
        .env("TESSERA_URL", &url)
        .env("TESSERA_ROOT_PASSWORD", ROOT_PASSWORD)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&fuzzed.stdout);
    assert!(
        fuzzed.status.success(),
        "Schemathesis found problems:\n{report}\n{}",
        String::from_utf8_lossy(&fuzzed.stderr)
    );
    assert!(report.contains("Tested: "), "{report}");
}
