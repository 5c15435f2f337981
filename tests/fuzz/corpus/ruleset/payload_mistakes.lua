action "bad" { channels = { "web" }, value = 1, escape = "js",
  payload = { "{nope}", "{attributes.x", "{channel} }", "{product.name}", "{}", "{attributes.}" } }
