# Grouped bars: whole-machine CPU time per request (minus direct's), by scenario (log scale: the 1 MiB
# scenario costs one to two orders of magnitude more per request than the small ones).
# gnuplot -e "datafile='cpu_per_req.dat'; outfile='cpu_per_req.png'" chart.gp
set terminal pngcairo size 1280,640 font "sans,11"
set output outfile
set title "Whole-machine CPU time per request, minus direct's (median of rounds; lower is better)"
set ylabel "CPU us / request (log scale)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border rgb "#333333"
set boxwidth 0.9
set logscale y
set yrange [0.5:*]
set grid ytics mytics
set key outside right top vertical
set datafile missing "?"
set xtics nomirror
ncols = system("head -1 '" . datafile . "' | wc -w") + 0
plot for [i=2:ncols] datafile using i:xtic(1) title columnheader(i)
