# cmake -DPTX=<stem>.ptx -DSOURCE=<stem>.cu -DOUT=<stem>_emulated.cpp -P write_kernel_unit.cmake
# Writes the emulator's translation unit for one kernel file: the .cu compiled for the host, then one
# IIP_EMULATED_KERNEL(name) per entry point that its PTX declares (so the two lists cannot drift apart).
file(READ "${PTX}" ptx_text)
string(REGEX MATCHALL "\\.entry [A-Za-z_][A-Za-z0-9_]*" entries "${ptx_text}")
if(NOT entries)
  message(FATAL_ERROR "${PTX}: no .entry in the PTX")
endif()
set(unit "// Generated from ${PTX} by tools/cuda-emulator/write_kernel_unit.cmake: do not edit.\n")
string(APPEND unit "#include \"${SOURCE}\"\n#include \"kernel_registry.h\"\n\n")
foreach(entry IN LISTS entries)
  string(REPLACE ".entry " "" name "${entry}")
  string(APPEND unit "IIP_EMULATED_KERNEL(${name})\n")
endforeach()
file(WRITE "${OUT}.tmp" "${unit}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
