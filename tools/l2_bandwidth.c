// Read-bandwidth probe used in docs/BENCHMARKS.md: AVX-512 loads and FMAs over a working set of N KB, one
// stream or eight; best of 20 passes. Build: gcc -O2 -mavx512f -mfma l2_bandwidth.c -o bw; run: ./bw 512 1; ./bw 512 8
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(int argc,char**argv){
  size_t kb=atoi(argv[1]); size_t n=kb*1024/4; int streams=argc>2?atoi(argv[2]):1;
  float*a=aligned_alloc(64,n*4); for(size_t i=0;i<n;i++)a[i]=1e-6f*(i%7);
  __m512 x=_mm512_set1_ps(1.0001f);
  double best=1e9; __m512 s0=_mm512_setzero_ps(),s1=s0,s2=s0,s3=s0,s4=s0,s5=s0,s6=s0,s7=s0;
  int reps=(int)(200*1024/kb)+1;
  for(int r=0;r<20;r++){ double t0=now();
   for(int q=0;q<reps;q++){
    if(streams==1){ for(size_t i=0;i<n;i+=128){ s0=_mm512_fmadd_ps(x,_mm512_load_ps(a+i),s0);s1=_mm512_fmadd_ps(x,_mm512_load_ps(a+i+16),s1);s2=_mm512_fmadd_ps(x,_mm512_load_ps(a+i+32),s2);s3=_mm512_fmadd_ps(x,_mm512_load_ps(a+i+48),s3);
      s4=_mm512_fmadd_ps(x,_mm512_load_ps(a+i+64),s4);s5=_mm512_fmadd_ps(x,_mm512_load_ps(a+i+80),s5);s6=_mm512_fmadd_ps(x,_mm512_load_ps(a+i+96),s6);s7=_mm512_fmadd_ps(x,_mm512_load_ps(a+i+112),s7);} }
    else { size_t m=n/8; for(size_t i=0;i<m;i+=16){ s0=_mm512_fmadd_ps(x,_mm512_load_ps(a+i),s0);s1=_mm512_fmadd_ps(x,_mm512_load_ps(a+m+i),s1);s2=_mm512_fmadd_ps(x,_mm512_load_ps(a+2*m+i),s2);s3=_mm512_fmadd_ps(x,_mm512_load_ps(a+3*m+i),s3);
      s4=_mm512_fmadd_ps(x,_mm512_load_ps(a+4*m+i),s4);s5=_mm512_fmadd_ps(x,_mm512_load_ps(a+5*m+i),s5);s6=_mm512_fmadd_ps(x,_mm512_load_ps(a+6*m+i),s6);s7=_mm512_fmadd_ps(x,_mm512_load_ps(a+7*m+i),s7);} }
   }
   double t=(now()-t0)/reps; if(t<best)best=t;}
  __m512 s=_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s0,s1),_mm512_add_ps(s2,s3)),_mm512_add_ps(_mm512_add_ps(s4,s5),_mm512_add_ps(s6,s7)));
  printf("%zu KB streams=%d: %.2f us/pass, %.1f GB/s  (%f)\n",kb,streams,best*1e6,n*4/best/1e9,_mm512_reduce_add_ps(s));
}
