def test_home_renders_in_japanese(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<html lang="ja">' in html
    assert "官民連携プラットフォーム" in html
