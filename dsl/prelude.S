/* Embeds dsl/prelude.lua in the binary as arb_prelude_lua[arb_prelude_lua_len],
 * and each of its parts dsl/prelude_<part>.lua likewise. */
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

    /* Its parts (C.part in engine/ruleset/load_state.c). */
    .global arb_prelude_dates_lua
    .global arb_prelude_dates_lua_len
    .balign 16
arb_prelude_dates_lua:
    .incbin "dsl/prelude_dates.lua"
arb_prelude_dates_lua_end:
    .balign 8
arb_prelude_dates_lua_len:
    .quad arb_prelude_dates_lua_end - arb_prelude_dates_lua

    .global arb_prelude_history_lua
    .global arb_prelude_history_lua_len
    .balign 16
arb_prelude_history_lua:
    .incbin "dsl/prelude_history.lua"
arb_prelude_history_lua_end:
    .balign 8
arb_prelude_history_lua_len:
    .quad arb_prelude_history_lua_end - arb_prelude_history_lua

    .global arb_prelude_place_lua
    .global arb_prelude_place_lua_len
    .balign 16
arb_prelude_place_lua:
    .incbin "dsl/prelude_place.lua"
arb_prelude_place_lua_end:
    .balign 8
arb_prelude_place_lua_len:
    .quad arb_prelude_place_lua_end - arb_prelude_place_lua
    .section .note.GNU-stack,"",@progbits
