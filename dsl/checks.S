/* Embeds dsl/checks.lua in the binary as arb_checks_lua[arb_checks_lua_len]. */
    .section .rodata
    .global arb_checks_lua
    .global arb_checks_lua_len
    .balign 16
arb_checks_lua:
    .incbin "dsl/checks.lua"
arb_checks_lua_end:
    .balign 8
arb_checks_lua_len:
    .quad arb_checks_lua_end - arb_checks_lua
    .section .note.GNU-stack,"",@progbits
