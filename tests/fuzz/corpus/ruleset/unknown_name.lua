action 'a' { channels = { 'web' }, value = 1, when = bouhgt('laptop') }
