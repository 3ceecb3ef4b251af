# scripts/bench/concurrency.gp: req/s against concurrent connections, one
# line per variant, from the data scripts/bench.sh wrote.
#
#   gnuplot -e "data='sweep.dat'; out='docs/bench-concurrency.png';
#               subtitle='...'" scripts/bench/concurrency.gp

set terminal pngcairo size 900,560 font "sans,11"
set output out

set title "req/s against concurrent connections\n{/*0.8 ".subtitle."}"
set xlabel "concurrent connections (wrk, 1 thread)"
set ylabel "requests per second (one nginx worker)"
set logscale x
set xtics ("1" 1, "10" 10, "50" 50, "200" 200, "1000" 1000)
set xrange [0.8:1300]
set yrange [0:*]
set format y "%.0f"
set grid
set key bottom right

plot data using 1:2 with linespoints lw 2 pt 7 title "ceiling (return 200)", \
     data using 1:3 with linespoints lw 2 pt 5 title "static files (try\\_files)", \
     data using 1:4 with linespoints lw 2 pt 9 title "Lua shared dict", \
     data using 1:5 with linespoints lw 2 pt 13 title "account module (LMDB)"
