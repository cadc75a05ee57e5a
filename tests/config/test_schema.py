import pytest
from django.core.management import call_command


def test_openapi_schema_is_valid_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for path in ("/api/v1/products/", "/api/v1/shops/{handle}/", "/api/v1/variants/{id}/"):
        assert path in text


def test_every_operation_documents_its_errors_in_the_one_error_shape(client):
    schema = client.get("/api/schema/?format=json").json()
    assert schema["components"]["schemas"]["Error"]["required"] == ["error"]
    ref = {"$ref": "#/components/schemas/Error"}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = operation["responses"]
            for status in ("400", "401", "403", "404", "429"):
                assert codes[status]["content"]["application/json"]["schema"] == ref, (
                    method,
                    path,
                    status,
                )
    assert "402" in schema["paths"]["/api/v1/orders/"]["post"]["responses"]
    assert "402" not in schema["paths"]["/api/v1/addresses/"]["post"]["responses"]


@pytest.mark.parametrize("path", ["/api/v1/addresses/%C3%A5/", "/api/v1/nothing-here/"])
def test_a_url_that_matches_no_route_under_the_api_is_a_json_404(client, path):
    response = client.delete(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "error": {"code": "not_found", "message": "Not found.", "fields": {}}
    }


def test_pages_keep_their_html_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
