# cmake -DAR=ar -DOUTPUT=libondo.a -DINPUTS="a.a;b.a" -P combine_archives.cmake
# Writes OUTPUT holding every member of the INPUTS archives (GNU ar's MRI script), so that one
# static library carries the C API and all of ondo's internal libraries.
if(NOT AR OR NOT OUTPUT OR NOT INPUTS)
  message(FATAL_ERROR "combine_archives.cmake: AR, OUTPUT and INPUTS are required")
endif()
set(script "create ${OUTPUT}.tmp\n")
foreach(lib IN LISTS INPUTS)
  string(APPEND script "addlib ${lib}\n")
endforeach()
string(APPEND script "save\nend\n")
file(WRITE ${OUTPUT}.mri "${script}")
file(REMOVE ${OUTPUT}.tmp)
execute_process(COMMAND ${AR} -M INPUT_FILE ${OUTPUT}.mri RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "combine_archives.cmake: ${AR} -M failed (${rc})")
endif()
file(RENAME ${OUTPUT}.tmp ${OUTPUT})
