# embed.cmake - turns common/lua/*.lua into one C file of byte arrays at build time, so
# the Lua sources stay readable (and reviewable) files while the programs carry them.
# Called by common/CMakeLists.txt as: cmake -DLUA_DIR=... -DOUT=... -P embed.cmake
file(GLOB lua_files ${LUA_DIR}/*.lua)
list(SORT lua_files)
set(body "/* Generated from the files of common/lua by common/lua/embed.cmake: do not edit. */\n#include <stddef.h>\n\n")
foreach(f ${lua_files})
  get_filename_component(name ${f} NAME_WE)
  string(TOUPPER ${name} upper)
  file(READ ${f} hex HEX)
  string(LENGTH "${hex}" hexlen)
  math(EXPR len "${hexlen} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND body "const char CHAT_LUA_${upper}[] = {${bytes}0x00};\nconst size_t CHAT_LUA_${upper}_LEN = ${len};\n\n")
endforeach()
file(WRITE ${OUT}.tmp "${body}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
