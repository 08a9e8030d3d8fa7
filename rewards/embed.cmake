# rewards/embed.cmake: turns a text file into a C array (cmake -DIN=file -DOUT=header -DNAME=symbol -P embed.cmake).
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," arr "${hex}")
file(WRITE ${OUT} "/* generated from ${IN} by rewards/embed.cmake */\nstatic const char ${NAME}[] = {${arr} 0x00};\n")
