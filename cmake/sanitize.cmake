# WEIR_SANITIZE=address,undefined instruments every target; UBSan errors abort so tests fail.
if(WEIR_SANITIZE)
  add_compile_options(-fsanitize=${WEIR_SANITIZE} -fno-omit-frame-pointer)
  if(WEIR_SANITIZE MATCHES "undefined")
    add_compile_options(-fno-sanitize-recover=undefined)
  endif()
  add_link_options(-fsanitize=${WEIR_SANITIZE})
endif()
