from django.core.management import call_command


def test_openapi_schema_is_valid_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for path in ("/api/v1/products/", "/api/v1/shops/{handle}/", "/api/v1/variants/{id}/"):
        assert path in text
