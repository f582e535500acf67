# FERRY_TRY_CFLAG(FLAG, VAR): append FLAG to VAR when the compiler takes it
# without a warning.
AC_DEFUN([FERRY_TRY_CFLAG], [
  AC_MSG_CHECKING([whether $CC accepts $1])
  ferry_save_CFLAGS="$CFLAGS"
  CFLAGS="$CFLAGS -Werror $1"
  AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])],
    [AC_MSG_RESULT([yes]); $2="$$2 $1"], [AC_MSG_RESULT([no])])
  CFLAGS="$ferry_save_CFLAGS"
])
# FERRY_TRY_LDFLAG(FLAG, VAR)
AC_DEFUN([FERRY_TRY_LDFLAG], [
  AC_MSG_CHECKING([whether the linker accepts $1])
  ferry_save_LDFLAGS="$LDFLAGS"
  LDFLAGS="$LDFLAGS -Werror $1"
  AC_LINK_IFELSE([AC_LANG_PROGRAM([], [])],
    [AC_MSG_RESULT([yes]); $2="$$2 $1"], [AC_MSG_RESULT([no])])
  LDFLAGS="$ferry_save_LDFLAGS"
])
