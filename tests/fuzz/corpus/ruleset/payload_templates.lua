action "tpl" {
  channels = { "web", "app", "email" }, value = 3,
  payload = { t = "Hi {attributes.first_name|there}, {years_since.member_since|0} years",
              d = "{days_since.last_order} days {{literal}} {customer_id}/{channel}/{touchpoint}",
              deep = { { "{attributes.loyalty_tier}" }, { k = "{attributes.lifetime_value|}" } } },
}
action "raw" { channels = { "web" }, value = 2, escape = "none", payload = "<{attributes.first_name}>" }
