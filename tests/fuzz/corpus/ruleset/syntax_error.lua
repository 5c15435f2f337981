action 'a' {
  channels = { 'web' },
  value = 1
  when = raining(),
}
