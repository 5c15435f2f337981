/* Embeds dsl/prelude.lua in the binary as arb_prelude_lua[arb_prelude_lua_len]. */
    .section .rodata
    .global arb_prelude_lua
    .global arb_prelude_lua_len
    .balign 16
arb_prelude_lua:
    .incbin "dsl/prelude.lua"
arb_prelude_lua_end:
    .balign 8
arb_prelude_lua_len:
    .quad arb_prelude_lua_end - arb_prelude_lua
    .section .note.GNU-stack,"",@progbits
